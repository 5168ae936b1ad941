//! What the controller knows about one node, and the questions rule 1 and
//! rule 2 ask about it.

use super::flaws::{Flaw, Flaws};
use super::io::Life;
use crate::ids::{GroupId, GroupSet};
use crate::time::{Duration, Instant};
use crate::wire::session::Responder;
use crate::wire::{Role, Status};

/// Sequence number of a Beat not sent yet: a change waiting for the Beat that
/// will carry it. No Status can claim to have applied it.
pub(super) const UNSENT: u64 = u64::MAX;

/// One node's state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Node {
    /// Its life.
    pub(super) life: Life,
    /// When `life` was entered: initdead counts from here while Booting,
    /// auto-unfence while Fenced.
    pub(super) since: Instant,
    /// Operator standby (maintenance): drained, given nothing.
    pub(super) standby: bool,
    /// Last relay sense reading (`None`: unknown).
    pub(super) powered: Option<bool>,
    /// When the last accepted message arrived.
    pub(super) last_heard: Option<Instant>,
    /// Session rules for this node's link.
    pub(super) session: Responder,
    /// Its first Status since the controller booted (or the node was powered
    /// on) was accepted: its report is adopted and its beats carry a role.
    pub(super) adopted: bool,
    /// Its last accepted Status (`None` while not adopted).
    pub(super) status: Option<Status>,
    /// The groups it should hold.
    pub(super) want: GroupSet,
    /// Seq of the first Beat that carried the current `want` (or role).
    pub(super) want_seq: u64,
    /// Bumped whenever `want` changes.
    pub(super) epoch: u32,
    /// A Beat must go out at the end of this step (want or session changed).
    pub(super) beat_due: bool,
    /// When the next periodic Beat is due.
    pub(super) next_beat: Instant,
    /// Groups taken out of `want` whose release no Status has answered yet.
    pub(super) released: GroupSet,
    /// Seq of the Beat that carried the latest release: a Status with
    /// `applied` at or above it answers every release in `released` (an
    /// earlier release may so wait for a later one: never too early).
    pub(super) release_seq: u64,
    /// Groups outside `want` it is not clear of.
    pub(super) owed: GroupSet,
    /// When the groups in `owed` must be released by: release_timeout after
    /// the latest of them became owed (generous, never early).
    release_by: Instant,
    /// Groups it reported failing, kept off until `failing_until`.
    failed: GroupSet,
    /// Until when it is kept off the groups in `failed` (failure_timeout
    /// after the latest failure report: one failure extends them all).
    failing_until: Instant,
    /// When it last became Up (auto-failback waits for stability).
    pub(super) up_since: Option<Instant>,
    /// A fence record saying "fenced" is persisted (or about to be).
    pub(super) fence_record: bool,
    /// A relay move waiting for its fence record to be durable: `Some(false)`
    /// a fence (record "fenced"), `Some(true)` an unfence (record "not
    /// fenced"). Rule 3: the relay moves only on the durable answer.
    pub(super) pending_power: Option<bool>,
    /// When the relay was last commanded off (while Fencing).
    pub(super) off_commanded: Instant,
    /// FenceUnconfirmed was raised for the current fencing.
    pub(super) unconfirmed_told: bool,
    /// Its fenced state comes straight from the boot fence record.
    pub(super) boot_fence: bool,
    /// Its power was sensed off while it held, or was meant to hold, a
    /// group: it died as a holder and is fenced, so it stays off.
    pub(super) died_holding: bool,
}

impl Node {
    /// A node as the controller first sees it: Booting, heard from never.
    pub(super) const fn new(now: Instant, session: Responder, powered: Option<bool>) -> Self {
        Self {
            life: Life::Booting,
            since: now,
            standby: false,
            powered,
            last_heard: None,
            session,
            adopted: false,
            status: None,
            want: GroupSet::EMPTY,
            want_seq: 0,
            epoch: 0,
            beat_due: false,
            next_beat: now,
            released: GroupSet::EMPTY,
            release_seq: 0,
            owed: GroupSet::EMPTY,
            release_by: Instant::ZERO,
            failed: GroupSet::EMPTY,
            failing_until: Instant::ZERO,
            up_since: None,
            fence_record: false,
            pending_power: None,
            off_commanded: now,
            unconfirmed_told: false,
            boot_fence: false,
            died_holding: false,
        }
    }

    /// Sensed powered off.
    pub(super) fn is_off(&self) -> bool {
        self.powered == Some(false)
    }

    /// Being fenced or fenced.
    pub(super) fn in_fence(&self) -> bool {
        matches!(self.life, Life::Fencing | Life::Fenced)
    }

    /// Rule 1: the groups this node may hold or take, i.e. is not provably
    /// clear of. A node never heard from since it booted is clear of none.
    pub(super) fn unclear(&self, flaws: Flaws) -> GroupSet {
        const ALL: GroupSet = GroupSet(u32::MAX);
        if self.life == Life::Fenced || self.is_off() {
            return GroupSet::EMPTY;
        }
        if flaws.has(Flaw::AcquireBeforeFence) && self.life == Life::Dead {
            return GroupSet::EMPTY;
        }
        if self.life == Life::Fencing || !self.adopted {
            return ALL;
        }
        if flaws.has(Flaw::IgnoreReleaseReport) {
            return self.want;
        }
        let Some(status) = self.status else {
            return ALL;
        };
        // A group it was asked to release is clear only once a Status that
        // answers the release says so; a group it was never asked to hold
        // is clear on any Status (the agent never acquires without want).
        let unanswered = if status.applied >= self.release_seq { GroupSet::EMPTY } else { self.released };
        self.want.union(unanswered).union(status.holds).union(status.busy).union(status.stuck)
    }

    /// Rule 1 for one group.
    pub(super) fn is_clear_of(&self, g: GroupId, flaws: Flaws) -> bool {
        !self.unclear(flaws).contains(g)
    }

    /// Rule 1 for every configured group.
    pub(super) fn is_clear_of_all(&self, groups: usize, flaws: Flaws) -> bool {
        self.unclear(flaws).intersection(GroupSet::first(groups)).is_empty()
    }

    /// The groups it reported failing, recently enough to be kept off them.
    pub(super) fn failing_now(&self, now: Instant) -> GroupSet {
        let reported = self.status.map_or(GroupSet::EMPTY, |s| s.failing);
        if now < self.failing_until {
            reported.union(self.failed)
        } else {
            reported
        }
    }

    /// It reported `g` failing, recently enough to keep it off `g`.
    pub(super) fn is_failing(&self, g: GroupId, now: Instant) -> bool {
        self.failing_now(now).contains(g)
    }

    /// It may be given groups now (eligibility and failures are checked
    /// per group).
    pub(super) fn is_available(&self) -> bool {
        self.life == Life::Up && !self.standby && self.adopted && !self.is_off()
    }

    /// It can no longer be a holder: its groups must move. (A Late node
    /// keeps its groups: warntime only warns.)
    pub(super) fn is_lost(&self) -> bool {
        matches!(self.life, Life::Booting | Life::Dead | Life::Fencing | Life::Fenced) || self.is_off() || !self.adopted
    }

    /// What its beats ask it to be.
    pub(super) fn role(&self) -> Role {
        if !self.adopted {
            Role::Listening
        } else if self.standby {
            Role::Standby
        } else {
            Role::Member
        }
    }

    /// Its last reported ping score (0 before any report).
    pub(super) fn net_score(&self) -> u16 {
        self.status.map_or(0, |s| s.net_score)
    }

    /// Its last reported holdings.
    pub(super) fn holds(&self) -> GroupSet {
        self.status.map_or(GroupSet::EMPTY, |s| s.holds)
    }

    /// Sets `want`, to go out in a Beat at the end of this step.
    pub(super) fn set_want(&mut self, want: GroupSet) {
        if want != self.want {
            self.want = want;
            self.epoch = self.epoch.wrapping_add(1);
        }
        self.want_seq = UNSENT;
        self.beat_due = true;
    }

    /// Takes `g` out of `want`: a release the node must answer.
    pub(super) fn release(&mut self, g: GroupId) {
        let mut want = self.want;
        want.remove(g);
        self.set_want(want);
        self.released.insert(g);
        self.release_seq = UNSENT;
    }

    /// Forgets the releases `applied` answers.
    pub(super) fn answered(&mut self, applied: u64) {
        if applied >= self.release_seq {
            self.released = GroupSet::EMPTY;
        }
    }

    /// The Beat with `seq` carries the current want: stamp what it answers.
    pub(super) fn beat_sent(&mut self, seq: u64) {
        if self.want_seq == UNSENT {
            self.want_seq = seq;
        }
        if self.release_seq == UNSENT {
            self.release_seq = seq;
        }
        self.beat_due = false;
    }

    /// It owes the release of `g`: the deadline is release_timeout from now
    /// unless a later one already runs.
    pub(super) fn owe(&mut self, g: GroupId, now: Instant, timeout: Duration) {
        if self.owed.contains(g) {
            return;
        }
        let by = now.saturating_add(timeout);
        self.release_by = if self.owed.is_empty() { by } else { self.release_by.max(by) };
        self.owed.insert(g);
    }

    /// It owes a release past its deadline.
    pub(super) fn release_overdue(&self, now: Instant) -> bool {
        !self.owed.is_empty() && now >= self.release_by
    }

    /// It reported `failing`: keep it off those groups for `timeout`.
    pub(super) fn note_failing(&mut self, failing: GroupSet, now: Instant, timeout: Duration) {
        if !failing.is_empty() {
            self.failed = self.failed.union(failing);
            self.failing_until = now.saturating_add(timeout);
        }
    }

    /// The deadlines this node's state waits for: a release, a failure expiry.
    pub(super) fn deadlines(&self) -> [Option<Instant>; 2] {
        [(!self.owed.is_empty()).then_some(self.release_by), (!self.failed.is_empty()).then_some(self.failing_until)]
    }

    /// Forgets what it reported: it was powered off, or is about to be
    /// powered on, and comes back knowing nothing.
    pub(super) fn forget_report(&mut self) {
        self.adopted = false;
        self.status = None;
        self.released = GroupSet::EMPTY;
        self.owed = GroupSet::EMPTY;
        self.up_since = None;
    }
}
