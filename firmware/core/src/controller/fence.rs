//! Fencing and unfencing (rules 2 and 3): the fence record is made durable
//! first, and only the driver's durable answer lets the relay move.
//!
//! A fence writes "fenced", waits for [`Persisted::Durable`], then commands
//! the relay off and waits for the sense to confirm. A failed write moves
//! nothing and raises [`Event::PersistFailed`]; the record is written again
//! every `fence_timeout` (as an unconfirmed relay is commanded again). An
//! unfence writes "not fenced" and powers the node on only once that is
//! durable; a failed unfence is dropped and the node stays fenced.

use super::flaws::Flaw;
use super::io::{Event, FenceRecord, Life, Output, Persisted};
use super::Controller;
use crate::ids::{GroupSet, NodeId};
use crate::time::Instant;
use crate::wire::{FenceAction, FenceReason, FenceResult, Requester};

impl Controller {
    /// Rule 2: starts fencing `id`. The record goes out first; the relay
    /// follows its durable answer.
    pub(super) fn start_fence(&mut self, now: Instant, id: NodeId, reason: FenceReason, by: Requester) {
        self.history.start(id, FenceAction::Fence, reason, by, now);
        let early_power = self.flaws.has(Flaw::PowerBeforePersist);
        if early_power {
            self.push_effect(Output::Power { node: id, on: false });
        }
        self.push_effect(Output::Persist(FenceRecord { node: id, fenced: true }));
        let skip_confirm = self.flaws.has(Flaw::SkipFenceConfirm);
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        n.fence_record = true;
        n.pending_power = (!early_power).then_some(false);
        n.boot_fence = false;
        n.died_holding = false;
        n.life = Life::Fencing;
        n.since = now;
        n.off_commanded = now;
        n.unconfirmed_told = false;
        n.up_since = None;
        n.owed = GroupSet::EMPTY;
        // With the relay commanded already (a planted flaw only), the sense
        // may confirm at once; otherwise the durable answer decides.
        let confirmed = early_power && (n.is_off() || skip_confirm);
        self.alarm(Event::FenceStarted { node: id });
        if confirmed {
            self.confirm_fence(now, id);
        }
    }

    pub(super) fn confirm_fence(&mut self, now: Instant, id: NodeId) {
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        n.life = Life::Fenced;
        n.since = now;
        n.forget_report();
        self.history.update(id, FenceAction::Fence, FenceResult::Confirmed, now);
        self.stats.fences_confirmed = self.stats.fences_confirmed.saturating_add(1);
        self.alarm(Event::FenceConfirmed { node: id });
    }

    /// Rule 3: only this (an operator `unfence` or `auto_unfence_after`)
    /// powers a fenced node on, once the record saying it is not fenced is
    /// durable. It comes back Booting, holding nothing, and gets groups
    /// only by placement.
    pub(super) fn unfence(&mut self, now: Instant, id: NodeId, reason: FenceReason, by: Requester) {
        self.history.start(id, FenceAction::Unfence, reason, by, now);
        self.push_effect(Output::Persist(FenceRecord { node: id, fenced: false }));
        if self.flaws.has(Flaw::PowerBeforePersist) {
            self.power_on(now, id);
        } else if let Some(n) = self.nodes.get_mut(id.index()) {
            n.pending_power = Some(true);
        }
    }

    /// The unfence's second half: the relay on, the node Booting.
    fn power_on(&mut self, now: Instant, id: NodeId) {
        self.push_effect(Output::Power { node: id, on: true });
        let Some(n) = self.nodes.get_mut(id.index()) else { return };
        n.pending_power = None;
        n.fence_record = false;
        n.boot_fence = false;
        n.life = Life::Booting;
        n.since = now;
        n.forget_report();
        self.history.update(id, FenceAction::Unfence, FenceResult::Confirmed, now);
        self.stats.unfences = self.stats.unfences.saturating_add(1);
        self.alarm(Event::Unfenced { node: id });
    }

    /// The driver's answer to a Persist.
    pub(super) fn persisted(&mut self, now: Instant, record: FenceRecord, result: Persisted) {
        let id = record.node;
        let awaited = self.live_node(id).and_then(|n| n.pending_power) == Some(!record.fenced);
        if !awaited {
            self.stats.persist_unexpected = self.stats.persist_unexpected.saturating_add(1);
            return;
        }
        match result {
            Persisted::Durable if record.fenced => {
                let Some(n) = self.nodes.get_mut(id.index()) else { return };
                n.pending_power = None;
                n.off_commanded = now;
                let skip_confirm = self.flaws.has(Flaw::SkipFenceConfirm);
                let confirmed = (n.is_off() || skip_confirm) && n.life == Life::Fencing;
                self.push_effect(Output::Power { node: id, on: false });
                if confirmed {
                    self.confirm_fence(now, id);
                }
            }
            Persisted::Durable => self.power_on(now, id),
            Persisted::Failed => {
                self.stats.persist_failures = self.stats.persist_failures.saturating_add(1);
                let action = if record.fenced { FenceAction::Fence } else { FenceAction::Unfence };
                self.history.update(id, action, FenceResult::Failed, now);
                if !record.fenced {
                    // The unfence is dropped: the node stays fenced.
                    if let Some(n) = self.nodes.get_mut(id.index()) {
                        n.pending_power = None;
                    }
                }
                self.alarm(Event::PersistFailed { node: id, fenced: record.fenced });
            }
        }
    }
}
