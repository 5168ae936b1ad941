//! What the controller knows about one group beyond whose want holds it:
//! an operator pin, a move under way, and the damping record (rule 6).

use heapless::Vec;

use super::io::MoveReason;
use crate::ids::NodeId;
use crate::time::{Duration, Instant};

/// How many automatic moves of one group are remembered. A configured
/// `max_moves` above this is enforced as this (stricter, never looser).
pub(super) const DAMPING_RECORDS: usize = 8;

/// A move under way: the group left `from`'s want and is not placed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Move {
    /// The node it was released from.
    pub(super) from: NodeId,
    /// Why.
    pub(super) reason: MoveReason,
    /// Where it was meant to go, if the move had a target.
    pub(super) to: Option<NodeId>,
}

/// One group's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub(super) struct Group {
    /// Operator `migrate` target; kept while that node stays available.
    pub(super) pin: Option<NodeId>,
    /// A move under way.
    pub(super) moving: Option<Move>,
    /// Times of the latest automatic moves, oldest first.
    pub(super) moves: Vec<Instant, DAMPING_RECORDS>,
    /// Unplaced was raised and the group has not been placed since.
    pub(super) unplaced_told: bool,
}

impl Group {
    /// A group nothing has happened to.
    pub(super) const IDLE: Self = Self { pin: None, moving: None, moves: Vec::new(), unplaced_told: false };

    /// Whether one more automatic move fits in the window.
    pub(super) fn damping_allows(&self, now: Instant, window: Duration, max_moves: u8) -> bool {
        let limit = usize::from(max_moves).min(DAMPING_RECORDS);
        self.moves.iter().filter(|t| now < t.saturating_add(window)).count() < limit
    }

    /// Records an automatic move at `now`, forgetting the oldest if full.
    pub(super) fn record_move(&mut self, now: Instant) {
        if self.moves.is_full() {
            self.moves.remove(0);
        }
        // Cannot fail: a slot was freed above.
        let _ = self.moves.push(now);
    }

    /// When the oldest move still inside the window leaves it.
    pub(super) fn damping_expiry(&self, now: Instant, window: Duration) -> Option<Instant> {
        self.moves.iter().map(|t| t.saturating_add(window)).filter(|t| *t > now).min()
    }
}
