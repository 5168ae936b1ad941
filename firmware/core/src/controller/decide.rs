//! One step of the controller, after its input is applied: life timers,
//! fencing (rule 2), placement (rules 1, 6, 7), release deadlines, beats.
//! Also the input rules for statuses, sense readings, boot and unfence.

use super::flaws::Flaw;
use super::group::Move;
use super::io::{Boot, Event, FenceRecord, Life, MoveReason, Output};
use super::node::Node;
use super::Controller;
use crate::ids::{GroupId, GroupSet, NodeId, MAX_NODES};
use crate::time::Instant;
use crate::wire::{Beat, Body, FenceAction, FenceReason, FenceResult, Message, Requester, Status};

impl Controller {
    /// Rule 4: fence records and sensed power decide the first state; the
    /// only relay output is "off" for every fenced node.
    pub(super) fn boot(&mut self, boot: &Boot) {
        let now = boot.now;
        for id in (0..self.config.nodes).map(NodeId) {
            let fenced = boot.fenced.get(id.index()).copied().unwrap_or(false);
            let Some(n) = self.nodes.get_mut(id.index()) else { continue };
            if fenced {
                n.fence_record = true;
                n.boot_fence = true;
                // Commanded off whatever the sense says: a relay that fell
                // closed during the reset, or a sense input that lies, must
                // not let a fenced node run. Off stays off: nothing toggles.
                let sensed_on = n.powered == Some(true);
                if n.is_off() {
                    n.life = Life::Fenced;
                } else {
                    n.life = Life::Fencing;
                    n.off_commanded = now;
                }
                self.push_effect(Output::Power { node: id, on: false });
                if !self.nodes.get(id.index()).is_some_and(Node::is_off) {
                    self.history.start(id, FenceAction::Fence, FenceReason::FencedAtStart, Requester::Controller, now);
                }
                if sensed_on {
                    self.alarm(Event::FencedNodePowered { node: id });
                }
            } else if n.is_off() {
                n.life = Life::Dead;
                self.alarm(Event::NodeDead { node: id });
            }
        }
    }

    /// The flaw `ForgetFencesOnBoot`: undo what the boot fence records did.
    #[cfg(feature = "flaws")]
    pub(super) fn forget_boot_fences(&mut self) {
        let booted = self.booted;
        for id in (0..self.config.nodes).map(NodeId) {
            let Some(n) = self.nodes.get_mut(id.index()) else { continue };
            if !(n.boot_fence && n.in_fence()) {
                continue;
            }
            n.boot_fence = false;
            n.fence_record = false;
            n.life = if n.is_off() { Life::Dead } else { Life::Booting };
            n.since = booted;
            self.effects.retain(|o| !matches!(o, Output::Power { node, .. } if *node == id));
            self.alarms.retain(|e| *e != Event::FencedNodePowered { node: id });
        }
    }

    /// An accepted message from `id`: it is alive.
    pub(super) fn heard(&mut self, now: Instant, id: NodeId) {
        let fence_timeout = self.config.timing.fence_timeout;
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        n.last_heard = Some(now);
        if matches!(n.life, Life::Booting | Life::Late | Life::Dead) {
            n.life = Life::Up;
            n.up_since = Some(now);
            self.alarm(Event::NodeUp { node: id });
        } else if n.life == Life::Fenced && now >= n.off_commanded.saturating_add(fence_timeout) {
            // Rule 3: a fenced node that talks has power, whatever the sense
            // input says (a relay that ignored "off" while the supply was
            // down, and a sense input that lags or sticks). Switch it off
            // again, at most once per fence_timeout.
            n.off_commanded = now;
            self.push_effect(Output::Power { node: id, on: false });
            self.alarm(Event::FencedNodePowered { node: id });
        }
    }

    /// An accepted Status from `id`. The first one since the controller
    /// booted (or the node was powered on) is adopted: what it holds becomes
    /// its want, so nothing moves because the controller restarted.
    pub(super) fn apply_status(&mut self, now: Instant, id: NodeId, mut status: Status) {
        let failure_timeout = self.config.timing.failure_timeout;
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        // A claim to have applied a Beat never sent (a stale count from an
        // older session) answers nothing.
        if status.applied > n.session.last_sent_seq() {
            status.applied = 0;
        }
        n.status = Some(status);
        n.note_failing(status.failing, now, failure_timeout);
        if n.in_fence() {
            // A node being fenced gets nothing back; its report is kept for
            // the operator only.
            return;
        }
        if n.adopted {
            n.answered(status.applied);
        } else {
            self.adopt(id, status.holds);
        }
    }

    fn adopt(&mut self, id: NodeId, holds: GroupSet) {
        let eligible: GroupSet = (0u8..)
            .zip(self.config.groups.iter())
            .filter(|(_, g)| g.eligible.contains(&id))
            .map(|(g, _)| GroupId(g))
            .collect();
        let mut taken = GroupSet::EMPTY;
        for (i, n) in self.cluster_nodes() {
            if i != id.0 {
                taken = taken.union(n.want);
            }
        }
        let held = holds.intersection(eligible);
        let conflicts = held.intersection(taken);
        let adopted = held.difference(taken);
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        n.adopted = true;
        n.released = GroupSet::EMPTY;
        let want = n.want.union(adopted);
        n.set_want(want);
        for g in adopted.iter() {
            if let Some(state) = self.groups.get_mut(g.index()) {
                state.moving = None;
                state.unplaced_told = false;
            }
        }
        for g in conflicts.iter() {
            let mut nodes = 1u8 << id.0;
            if let Some(other) = self.holder_of(g) {
                nodes |= 1 << other.0;
            }
            self.alarm(Event::Conflict { group: g, nodes });
        }
    }

    /// A relay sense reading.
    pub(super) fn sense(&mut self, now: Instant, id: NodeId, powered: bool) {
        if id.0 >= self.config.nodes {
            return;
        }
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        let before = n.powered;
        n.powered = Some(powered);
        match (n.life, powered) {
            // Confirmed only once the record is durable and the relay was
            // commanded off; a persist under way confirms when it answers.
            (Life::Fencing, false) if n.pending_power.is_none() => self.confirm_fence(now, id),
            (Life::Fenced, true) => {
                // Rule 3: a fenced node stays off, whoever switched it on.
                n.life = Life::Fencing;
                n.since = now;
                n.off_commanded = now;
                n.unconfirmed_told = false;
                self.push_effect(Output::Power { node: id, on: false });
                self.history.start(id, FenceAction::Fence, FenceReason::PoweredWhileFenced, Requester::Controller, now);
                self.alarm(Event::FencedNodePowered { node: id });
            }
            (Life::Fencing | Life::Fenced, _) => {}
            (life, false) => {
                // Off: it holds nothing now. A holder that lost power died
                // as a holder: rule 2 fences it (at once, the sense already
                // confirms) so that it stays off until an operator admits it.
                n.died_holding = !n.want.is_empty() || !n.holds().is_empty();
                n.forget_report();
                if life != Life::Dead {
                    n.life = Life::Dead;
                    self.alarm(Event::NodeDead { node: id });
                }
            }
            (_, true) => {
                if before == Some(false) {
                    n.died_holding = false;
                    n.forget_report();
                    n.life = Life::Booting;
                    n.since = now;
                }
            }
        }
    }

    /// Everything that follows from the inputs so far, at `now`.
    pub(super) fn settle(&mut self, now: Instant) {
        self.run_timers(now);
        self.fence_where_needed(now);
        self.place_groups(now);
        self.track_releases(now);
        self.send_beats(now);
        self.deadline = self.next_deadline();
    }

    fn run_timers(&mut self, now: Instant) {
        let t = self.config.timing;
        for id in (0..self.config.nodes).map(NodeId) {
            let Some(n) = self.nodes.get_mut(id.index()) else { continue };
            let heard = n.last_heard.unwrap_or(n.since);
            match n.life {
                Life::Booting if now >= n.since.saturating_add(t.initdead) => {
                    n.life = Life::Dead;
                    self.alarm(Event::NodeDead { node: id });
                }
                Life::Up | Life::Late if now >= heard.saturating_add(t.deadtime) => {
                    n.life = Life::Dead;
                    n.up_since = None;
                    self.alarm(Event::NodeDead { node: id });
                }
                Life::Up if now >= heard.saturating_add(t.warntime) => {
                    n.life = Life::Late;
                    n.up_since = None;
                    self.alarm(Event::NodeLate { node: id });
                }
                Life::Fencing if now >= n.off_commanded.saturating_add(t.fence_timeout) => {
                    // Nothing it might hold moves until the sense confirms:
                    // the relay is commanded off again or, while the record
                    // is not durable yet, the record is written again.
                    n.off_commanded = now;
                    let tell = !n.unconfirmed_told;
                    n.unconfirmed_told = true;
                    let retry = match n.pending_power {
                        Some(_) => Output::Persist(FenceRecord { node: id, fenced: true }),
                        None => Output::Power { node: id, on: false },
                    };
                    self.push_effect(retry);
                    if tell {
                        self.history.update(id, FenceAction::Fence, FenceResult::Unconfirmed, now);
                        self.stats.fences_unconfirmed = self.stats.fences_unconfirmed.saturating_add(1);
                        self.alarm(Event::FenceUnconfirmed { node: id });
                    }
                }
                Life::Fenced if n.pending_power.is_none() => {
                    if let Some(after) = t.auto_unfence_after {
                        if now >= n.since.saturating_add(after) {
                            self.unfence(now, id, FenceReason::AutoUnfence, Requester::Controller);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Rule 2: fence a dead node that may hold something, a node that
    /// reports a stuck group, and a node that did not release in time.
    fn fence_where_needed(&mut self, now: Instant) {
        let groups = self.config.groups.len();
        let flaws = self.flaws;
        let fence_idle = self.config.fence_idle_dead;
        for id in (0..self.config.nodes).map(NodeId) {
            let Some(n) = self.nodes.get(id.index()) else { continue };
            if n.in_fence() {
                continue;
            }
            let stuck = n.status.is_some_and(|s| !s.stuck.is_empty());
            let dead = n.life == Life::Dead
                && !flaws.has(Flaw::AcquireBeforeFence)
                && (fence_idle || n.died_holding || (!n.is_off() && !n.is_clear_of_all(groups, flaws)));
            let overdue = matches!(n.life, Life::Up | Life::Late) && n.release_overdue(now);
            let reason = if stuck {
                FenceReason::Stuck
            } else if overdue {
                FenceReason::ReleaseOverdue
            } else {
                FenceReason::Dead
            };
            if stuck || dead || overdue {
                self.start_fence(now, id, reason, Requester::Controller);
            }
        }
    }

    fn place_groups(&mut self, now: Instant) {
        // Placement changes wants and pins, never who is available.
        let avail = self.availability(now);
        for g in (0u8..).take(self.config.groups.len()).map(GroupId) {
            self.drop_stale_pin(&avail, g);
            if let Some(holder) = self.holder_of(g) {
                let h = self.nodes.get(holder.index());
                let failing = h.is_some_and(|n| n.is_failing(g, now));
                if h.is_none_or(Node::is_lost) {
                    self.start_move(now, g, holder, MoveReason::HolderLost, None);
                } else if let Some((to, reason)) = self
                    .better_place(&avail, now, g, holder)
                    .filter(|(_, reason)| *reason == MoveReason::Operator || self.damping_allows(now, g))
                {
                    self.start_move(now, g, holder, reason, Some(to));
                } else if failing {
                    // Nowhere better to go (or damping holds moves back):
                    // release it anyway, so that it is placed again, here
                    // too, once failure_timeout has passed.
                    self.start_move(now, g, holder, MoveReason::Failing, None);
                }
            }
            if self.holder_of(g).is_none() {
                self.place(&avail, now, g);
            }
        }
    }

    /// An operator pin lasts while its node stays available for the group.
    fn drop_stale_pin(&mut self, avail: &Availability, g: GroupId) {
        let pin = self.groups.get(g.index()).and_then(|s| s.pin);
        if let Some(p) = pin {
            if !self.can_take(avail, g, p) {
                if let Some(state) = self.groups.get_mut(g.index()) {
                    state.pin = None;
                }
            }
        }
    }

    /// Who may be given groups now: the nodes available, and what each
    /// is failing.
    pub(super) fn availability(&self, now: Instant) -> Availability {
        let mut a = Availability { nodes: 0, failing: [GroupSet::EMPTY; MAX_NODES], best_score: 0 };
        for (i, n) in self.cluster_nodes() {
            if n.is_available() {
                a.nodes |= 1u8.wrapping_shl(u32::from(i));
                a.best_score = a.best_score.max(n.net_score());
            }
            if let Some(f) = a.failing.get_mut(usize::from(i)) {
                *f = n.failing_now(now);
            }
        }
        a
    }

    /// `node` is eligible for `g` and available for it.
    pub(super) fn can_take(&self, avail: &Availability, g: GroupId, node: NodeId) -> bool {
        let bit = 1u8.wrapping_shl(u32::from(node.0));
        node.index() < MAX_NODES
            && self.eligible.get(g.index()).is_some_and(|mask| mask & bit != 0)
            && avail.nodes & bit != 0
            && !avail.failing.get(node.index()).is_some_and(|f| f.contains(g))
    }

    /// The best available eligible node for `g` other than `except`: highest
    /// net score, ties to the earlier in the eligible list (home first).
    fn best_for(&self, avail: &Availability, g: GroupId, except: Option<NodeId>) -> Option<NodeId> {
        let config = self.config.groups.get(g.index())?;
        let mut best: Option<(NodeId, u16)> = None;
        for &node in &config.eligible {
            if Some(node) == except || !self.can_take(avail, g, node) {
                continue;
            }
            let score = self.live_node(node).map_or(0, Node::net_score);
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((node, score));
            }
        }
        best.map(|(node, _)| node)
    }

    /// Where `g` should go instead of its available holder, and why.
    fn better_place(
        &self,
        avail: &Availability,
        now: Instant,
        g: GroupId,
        holder: NodeId,
    ) -> Option<(NodeId, MoveReason)> {
        let config = self.config.groups.get(g.index())?;
        let h = self.live_node(holder)?;
        if let Some(pin) = self.groups.get(g.index()).and_then(|s| s.pin) {
            return (pin != holder).then_some((pin, MoveReason::Operator));
        }
        if h.standby {
            return self.best_for(avail, g, Some(holder)).map(|to| (to, MoveReason::Operator));
        }
        if h.is_failing(g, now) {
            return self.best_for(avail, g, Some(holder)).map(|to| (to, MoveReason::Failing));
        }
        let score = h.net_score();
        if config.auto_failback {
            if let Some(&home) = config.eligible.first() {
                let stable = self.live_node(home).is_some_and(|n| {
                    n.up_since.is_some_and(|t| now >= t.saturating_add(self.config.timing.failback_delay))
                        && n.net_score() >= score
                });
                if home != holder && stable && self.can_take(avail, g, home) {
                    return Some((home, MoveReason::Failback));
                }
            }
        }
        // Nobody is better connected than the holder: nothing to look for.
        if avail.best_score <= score {
            return None;
        }
        let best = self.best_for(avail, g, Some(holder))?;
        let better = self.live_node(best).is_some_and(|n| n.net_score() > score);
        better.then_some((best, MoveReason::NetScore))
    }

    fn damping_allows(&self, now: Instant, g: GroupId) -> bool {
        if self.flaws.has(Flaw::NoDamping) {
            return true;
        }
        let t = self.config.timing;
        self.groups.get(g.index()).is_some_and(|s| s.damping_allows(now, t.move_window, t.max_moves))
    }

    /// First half of a move: take `g` out of `from`'s want.
    fn start_move(&mut self, now: Instant, g: GroupId, from: NodeId, reason: MoveReason, to: Option<NodeId>) {
        let release_timeout = self.config.timing.release_timeout;
        if let Some(n) = self.nodes.get_mut(from.index()) {
            n.release(g);
            n.owe(g, now, release_timeout);
        }
        if let Some(state) = self.groups.get_mut(g.index()) {
            state.moving = Some(Move { from, reason, to });
        }
        self.alarm(Event::Releasing { group: g, from, reason });
    }

    /// Second half of a move (or a first placement): put `g` in the target's
    /// want once every other node is clear of it (rule 1) and damping allows.
    fn place(&mut self, avail: &Availability, now: Instant, g: GroupId) {
        let Some(state) = self.groups.get(g.index()) else { return };
        let moving = state.moving;
        let reason = moving.map_or(MoveReason::Placement, |m| m.reason);
        let preferred = state.pin.or(moving.and_then(|m| m.to)).filter(|&to| self.can_take(avail, g, to));
        let Some(to) = preferred.or_else(|| self.best_for(avail, g, None)) else {
            self.unplaced(now, g);
            return;
        };
        let counted =
            !matches!(reason, MoveReason::Operator | MoveReason::Placement) && moving.map(|m| m.from) != Some(to);
        if counted && !self.damping_allows(now, g) {
            self.unplaced(now, g);
            return;
        }
        let flaws = self.flaws;
        if !self.cluster_nodes().all(|(i, n)| i == to.0 || n.is_clear_of(g, flaws)) {
            return;
        }
        if let Some(n) = self.nodes.get_mut(to.index()) {
            let mut want = n.want;
            want.insert(g);
            n.set_want(want);
            n.owed.remove(g);
        }
        if let Some(state) = self.groups.get_mut(g.index()) {
            state.moving = None;
            state.unplaced_told = false;
            if counted {
                state.record_move(now);
            }
        }
        self.alarm(Event::Placed { group: g, to, reason });
    }

    /// Raises Unplaced once per stretch, for a group that was placed before
    /// or once initdead after boot has passed (before that, nodes are still
    /// expected to report).
    fn unplaced(&mut self, now: Instant, g: GroupId) {
        let settled = now >= self.booted.saturating_add(self.config.timing.initdead);
        let Some(state) = self.groups.get_mut(g.index()) else { return };
        if !state.unplaced_told && (state.moving.is_some() || settled) {
            state.unplaced_told = true;
            self.alarm(Event::Unplaced { group: g });
        }
    }

    /// Starts a release deadline for every group a live node holds outside
    /// its want, and forgets the deadlines of groups it is clear of.
    fn track_releases(&mut self, now: Instant) {
        let release_timeout = self.config.timing.release_timeout;
        let configured = GroupSet::first(self.config.groups.len());
        let flaws = self.flaws;
        for n in self.nodes.iter_mut().take(usize::from(self.config.nodes)) {
            if !(n.adopted && matches!(n.life, Life::Up | Life::Late) && !n.is_off()) {
                n.owed = GroupSet::EMPTY;
                continue;
            }
            let owes = n.unclear(flaws).difference(n.want).intersection(configured);
            n.owed = n.owed.intersection(owes);
            let newly = owes.difference(n.owed);
            if !newly.is_empty() {
                for g in newly.iter() {
                    n.owe(g, now, release_timeout);
                }
            }
        }
    }

    /// A Beat to every node whose want changed, and to every node every
    /// keepalive.
    fn send_beats(&mut self, now: Instant) {
        let keepalive = self.config.timing.keepalive;
        for id in (0..self.config.nodes).map(NodeId) {
            let Some(n) = self.nodes.get_mut(id.index()) else { continue };
            if !(n.beat_due || now >= n.next_beat) {
                continue;
            }
            let header = n.session.header(id);
            n.beat_sent(header.seq);
            n.next_beat = now.saturating_add(keepalive);
            let beat = Beat { epoch: n.epoch, want: n.want, role: n.role() };
            self.push_effect(Output::Send { node: id, message: Message { header, body: Body::Beat(beat) } });
        }
    }

    /// The earliest instant at which some timer of this controller fires.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let now = self.now;
        let t = self.config.timing;
        // Beats and the watchdog are always re-armed when served, so a due
        // one is returned as is; condition deadlines at or before `now` were
        // already evaluated in the last step.
        let mut next = self.next_feed;
        let mut consider = |at: Instant| {
            if at > now && at < next {
                next = at;
            }
        };
        for (_, n) in self.cluster_nodes() {
            consider(n.next_beat);
            let heard = n.last_heard.unwrap_or(n.since);
            match n.life {
                Life::Booting => consider(n.since.saturating_add(t.initdead)),
                Life::Up => {
                    consider(heard.saturating_add(t.warntime));
                    consider(heard.saturating_add(t.deadtime));
                }
                Life::Late => consider(heard.saturating_add(t.deadtime)),
                Life::Fencing => consider(n.off_commanded.saturating_add(t.fence_timeout)),
                Life::Fenced => {
                    if let Some(after) = t.auto_unfence_after {
                        consider(n.since.saturating_add(after));
                    }
                }
                Life::Dead => {}
            }
            for at in n.deadlines().into_iter().flatten() {
                consider(at);
            }
            if let Some(up) = n.up_since {
                consider(up.saturating_add(t.failback_delay));
            }
        }
        for state in self.groups.iter().take(self.config.groups.len()) {
            if let Some(at) = state.damping_expiry(now, t.move_window) {
                consider(at);
            }
        }
        let due = self.cluster_nodes().map(|(_, n)| n.next_beat).filter(|at| *at <= now).min();
        Some(due.map_or(next, |d| d.min(next)))
    }
}

/// Who may be given groups at one instant (worked out once per step).
#[derive(Debug, Clone, Copy)]
pub(super) struct Availability {
    /// Bit `n`: node `n` is up, adopted, online and not sensed off.
    nodes: u8,
    /// Per node, the groups it is failing.
    failing: [GroupSet; MAX_NODES],
    /// The highest ping score among the available nodes.
    best_score: u16,
}
