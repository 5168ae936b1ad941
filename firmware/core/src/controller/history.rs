//! The last fences and unfences ([`HISTORY_LEN`]), for operators: who,
//! why, who asked, when, how long to confirm, how it ended. Kept in RAM
//! only (the durable fence records are the fence store's); a restart
//! starts it empty.

use crate::ids::NodeId;
use crate::time::Instant;
use crate::wire::{FenceAction, FenceOp, FenceReason, FenceResult, HistoryAnswer, Requester};

/// Entries kept: 8 × 32 bytes of the board's RAM.
pub const HISTORY_LEN: usize = 8;

/// One fence or unfence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FenceEntry {
    /// The node.
    pub node: NodeId,
    /// Fence or unfence.
    pub action: FenceAction,
    /// Why.
    pub reason: FenceReason,
    /// Who asked.
    pub by: Requester,
    /// When it started.
    pub started: Instant,
    /// When it was confirmed, or failed.
    pub done: Option<Instant>,
    /// Where it stands.
    pub result: FenceResult,
}

impl FenceEntry {
    /// As the wire carries it, seen at `now`.
    #[must_use]
    pub fn at(&self, now: Instant) -> FenceOp {
        let ms = |d: crate::time::Duration| u32::try_from(d.as_millis()).unwrap_or(u32::MAX);
        FenceOp {
            node: self.node,
            action: self.action,
            reason: self.reason,
            by: self.by,
            started_ago_ms: ms(now.saturating_since(self.started)),
            took_ms: self.done.map(|d| ms(d.saturating_since(self.started))),
            result: self.result,
        }
    }
}

/// A ring of the last [`HISTORY_LEN`] entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FenceHistory {
    ring: [Option<FenceEntry>; HISTORY_LEN],
    /// Where the next entry goes.
    next: usize,
    /// Entries ever recorded.
    total: u32,
}

impl FenceHistory {
    /// Empty.
    pub const EMPTY: Self = Self { ring: [None; HISTORY_LEN], next: 0, total: 0 };

    /// Records a start.
    pub(super) fn start(
        &mut self,
        node: NodeId,
        action: FenceAction,
        reason: FenceReason,
        by: Requester,
        now: Instant,
    ) {
        if let Some(slot) = self.ring.get_mut(self.next) {
            *slot =
                Some(FenceEntry { node, action, reason, by, started: now, done: None, result: FenceResult::Pending });
        }
        self.next = (self.next + 1) % HISTORY_LEN;
        self.total = self.total.saturating_add(1);
    }

    /// Marks the newest `action` of `node` with `result`, unless that one
    /// is confirmed already; `done` is set by an end and cleared otherwise.
    /// (A fence whose record failed to be written is tried again, and may
    /// still be confirmed.)
    pub(super) fn update(&mut self, node: NodeId, action: FenceAction, result: FenceResult, now: Instant) {
        let ends = matches!(result, FenceResult::Confirmed | FenceResult::Failed);
        for back in 0..HISTORY_LEN {
            let index = (self.next + HISTORY_LEN - 1 - back) % HISTORY_LEN;
            let Some(Some(e)) = self.ring.get_mut(index) else { continue };
            if e.node != node || e.action != action {
                continue;
            }
            if e.result != FenceResult::Confirmed {
                e.result = result;
                e.done = ends.then_some(now);
            }
            return;
        }
    }

    /// Entry `back` (0: the newest).
    #[must_use]
    pub fn get(&self, back: usize) -> Option<&FenceEntry> {
        if back >= HISTORY_LEN {
            return None;
        }
        let index = (self.next + HISTORY_LEN - 1 - back) % HISTORY_LEN;
        self.ring.get(index).and_then(Option::as_ref)
    }

    /// The entries, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &FenceEntry> {
        (0..HISTORY_LEN).map_while(|back| self.get(back))
    }

    /// Entries held now.
    #[must_use]
    pub fn held(&self) -> u8 {
        u8::try_from(self.iter().count()).unwrap_or(u8::MAX)
    }

    /// Entries ever recorded.
    #[must_use]
    pub const fn total(&self) -> u32 {
        self.total
    }

    /// The answer to `Op::History { back }` (request `id`) at `now`.
    #[must_use]
    pub fn answer(&self, id: u32, back: u8, now: Instant) -> HistoryAnswer {
        HistoryAnswer {
            id,
            back,
            held: self.held(),
            total: self.total,
            entry: self.get(usize::from(back)).map(|e| e.at(now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    #[test]
    fn keeps_the_last_entries_newest_first_and_closes_the_open_one() {
        let mut h = FenceHistory::EMPTY;
        let t = |ms| Instant::ZERO.saturating_add(Duration(ms));
        for i in 0..10u8 {
            h.start(NodeId(i % 3), FenceAction::Fence, FenceReason::Dead, Requester::Controller, t(u64::from(i) * 100));
        }
        assert_eq!((h.held(), h.total()), (8, 10));
        assert_eq!(h.get(0).map(|e| e.node), Some(NodeId(0)), "the tenth start, node 9 % 3");
        assert_eq!(h.get(7).map(|e| e.started), Some(t(200)), "the third start is the oldest kept");
        assert_eq!(h.get(8), None);
        h.update(NodeId(2), FenceAction::Fence, FenceResult::Unconfirmed, t(1000));
        h.update(NodeId(2), FenceAction::Fence, FenceResult::Confirmed, t(1100));
        let newest_of_2 = h.iter().find(|e| e.node == NodeId(2)).copied().unwrap();
        assert_eq!((newest_of_2.result, newest_of_2.done), (FenceResult::Confirmed, Some(t(1100))));
        // An older open entry of node 2 stays as it was.
        assert_eq!(h.iter().filter(|e| e.node == NodeId(2) && e.result == FenceResult::Pending).count(), 2);
        let a = h.answer(5, 1, t(2000));
        assert_eq!((a.id, a.back, a.held, a.total), (5, 1, 8, 10));
        let op = a.entry.unwrap();
        assert_eq!((op.node, op.started_ago_ms, op.took_ms), (NodeId(2), 1200, Some(300)));
        assert_eq!(h.answer(5, 9, t(2000)).entry, None);
        // A confirmed newest entry is not touched again.
        h.update(NodeId(2), FenceAction::Fence, FenceResult::Failed, t(2100));
        assert_eq!(h.iter().find(|e| e.node == NodeId(2)).map(|e| e.result), Some(FenceResult::Confirmed));
        // A failed record, then a retry not confirmed in time: under way again.
        h.start(NodeId(1), FenceAction::Fence, FenceReason::Dead, Requester::Controller, t(2200));
        h.update(NodeId(1), FenceAction::Fence, FenceResult::Failed, t(2210));
        h.update(NodeId(1), FenceAction::Fence, FenceResult::Unconfirmed, t(2300));
        let e = h.get(0).unwrap();
        assert_eq!((e.result, e.done), (FenceResult::Unconfirmed, None));
    }
}
