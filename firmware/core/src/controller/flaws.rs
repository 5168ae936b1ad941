//! Deliberate bugs that can be planted in a controller, so the simulator can
//! prove it catches each way of breaking a safety rule.
//!
//! Without the `flaws` feature the set is a zero-sized type whose `has`
//! always answers `false`: the checks in the controller compile away.

/// A deliberate bug, each breaking one safety rule (see DESIGN §3).
#[cfg_attr(not(feature = "flaws"), allow(dead_code, unreachable_pub))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flaw {
    /// Rule 2: treat a node as fenced as soon as the relay is commanded off,
    /// without waiting for the sense input to confirm it.
    SkipFenceConfirm,
    /// Rule 1: treat a node as clear of a group as soon as the group leaves
    /// its want, without waiting for a Status that answers the release.
    IgnoreReleaseReport,
    /// Rule 3: switch the relay without waiting for the fence record to be
    /// durable.
    PowerBeforePersist,
    /// Rule 3/4: ignore the persisted fence records at boot. Plant it right
    /// after `Controller::new`, before the first step.
    ForgetFencesOnBoot,
    /// Rule 6: ignore `max_moves`.
    NoDamping,
    /// Rule 2: give a dead holder's groups away without fencing it.
    AcquireBeforeFence,
    /// Watchdog rule: feed the watchdog while a link driver is stalled.
    FeedWhileStalled,
}

/// The planted flaws.
#[cfg(feature = "flaws")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(super) struct Flaws(u8);

/// The planted flaws (none can be planted without the `flaws` feature).
#[cfg(not(feature = "flaws"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(super) struct Flaws;

#[cfg(feature = "flaws")]
impl Flaws {
    /// Nothing planted.
    pub(super) const NONE: Self = Self(0);

    const fn bit(flaw: Flaw) -> u8 {
        1 << (flaw as u8)
    }

    pub(super) fn plant(&mut self, flaw: Flaw) {
        self.0 |= Self::bit(flaw);
    }

    pub(super) const fn has(self, flaw: Flaw) -> bool {
        self.0 & Self::bit(flaw) != 0
    }
}

#[cfg(not(feature = "flaws"))]
impl Flaws {
    /// Nothing planted.
    pub(super) const NONE: Self = Self;

    #[allow(clippy::unused_self)]
    pub(super) const fn has(self, _flaw: Flaw) -> bool {
        false
    }
}
