//! The safety checks after every event, against what the world really
//! does: exclusivity (rule 1), stay down (rule 3) and damping (rule 6).
//! Checks that need the moment of a command or a message (relays, the
//! watchdog, a fenced node that talks) are made where that happens and
//! report through [`Sim::violate`].

use warden_core::controller::{Event, MoveReason};
use warden_core::{GroupId, GroupSet};

use super::Sim;
use crate::trace::Entry;

impl Sim {
    pub(super) fn violate(&mut self, what: String) {
        if self.violation.is_none() {
            self.trace.push(self.now, Entry::Violation(what.clone()));
            self.violation = Some((self.now, what));
        }
        self.done = true;
    }

    pub(super) fn observe_alarm(&mut self, e: Event) {
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

    pub(super) fn check(&mut self) {
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
}
