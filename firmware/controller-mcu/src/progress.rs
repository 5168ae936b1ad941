//! When the board may feed its watchdog (DESIGN §3: only while the main
//! loop and every link driver make progress).
//!
//! * **The main loop** makes progress when the core's controller asks for a
//!   feed: it emits `FeedWatchdog` from `handle_timeout`, once per
//!   keepalive, and only a loop that keeps calling it gets there. A loop
//!   stuck anywhere (a busy wait that never ends, a fault handler) asks for
//!   nothing and the watchdog resets the board.
//! * **A link driver** (the UART of a node's link) is *stalled* when the
//!   last frame written to its UART failed with a device error: the
//!   transmitter did not take a byte within the bound (a UART drains at its
//!   baud rate whatever the peer does, so a transmitter that stays full is
//!   wedged). It makes progress again as soon as a frame goes out. The
//!   receive side cannot fail on this board (the interrupt handler moves
//!   each byte into the link's queue), so only transmits are recorded. A
//!   silent peer is the node's condition, not the driver's, and does not
//!   stall it: a dead node must never reset the controller that is about
//!   to fence it.
//!
//! The feed is withheld while any link driver is stalled; [`Progress`] says
//! which, and reports a change once, not at every keepalive.

use warden_bsp::LinkError;

/// What the last call on a link's UART came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Bytes moved (or there were none to move).
    Moved,
    /// The UART itself failed: the driver is stalled.
    Stalled,
    /// The peer is gone or not reading: not the driver's fault.
    PeerTrouble,
}

impl Outcome {
    /// The outcome of a link call.
    #[must_use]
    pub const fn of<T>(result: &Result<T, LinkError>) -> Self {
        match result {
            Ok(_) => Self::Moved,
            Err(LinkError::Device { .. }) => Self::Stalled,
            Err(_) => Self::PeerTrouble,
        }
    }
}

/// The answer to a feed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Feed the watchdog; `resumed` when the previous request was withheld.
    Feed {
        /// The feed was withheld before this one.
        resumed: bool,
    },
    /// Do not feed: these links (bit `i` = link `i`) are stalled. `first`
    /// when the previous request was fed (report it then, once).
    Withhold {
        /// Bitmask of stalled links.
        stalled: u8,
        /// This is the first withheld request in a row.
        first: bool,
    },
}

/// Progress of up to eight link drivers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    stalled: u8,
    withheld: bool,
}

impl Progress {
    /// Every link making progress.
    #[must_use]
    pub const fn new() -> Self {
        Self { stalled: 0, withheld: false }
    }

    /// Records the outcome of a call on link `link` (0..8; others ignored).
    pub fn record(&mut self, link: usize, outcome: Outcome) {
        let Some(bit) = u32::try_from(link).ok().and_then(|l| 1u8.checked_shl(l)) else { return };
        match outcome {
            Outcome::Moved => self.stalled &= !bit,
            Outcome::Stalled => self.stalled |= bit,
            Outcome::PeerTrouble => {}
        }
    }

    /// Links stalled now (bit `i` = link `i`).
    #[must_use]
    pub const fn stalled(&self) -> u8 {
        self.stalled
    }

    /// The main loop asks for a feed: may it?
    pub fn decide(&mut self) -> Decision {
        let was_withheld = self.withheld;
        self.withheld = self.stalled != 0;
        if self.withheld {
            Decision::Withhold { stalled: self.stalled, first: !was_withheld }
        } else {
            Decision::Feed { resumed: was_withheld }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stalled_link_withholds_the_feed_until_it_moves_again() {
        let mut p = Progress::new();
        assert_eq!(p.decide(), Decision::Feed { resumed: false });
        p.record(1, Outcome::Stalled);
        assert_eq!(p.decide(), Decision::Withhold { stalled: 0b10, first: true });
        p.record(2, Outcome::Stalled);
        assert_eq!(p.decide(), Decision::Withhold { stalled: 0b110, first: false });
        p.record(1, Outcome::Moved);
        p.record(2, Outcome::Moved);
        assert_eq!(p.decide(), Decision::Feed { resumed: true });
        assert_eq!(p.decide(), Decision::Feed { resumed: false });
    }

    #[test]
    fn peer_trouble_never_stalls_and_never_unstalls() {
        let mut p = Progress::new();
        p.record(0, Outcome::of::<()>(&Err(LinkError::Disconnected)));
        p.record(0, Outcome::of::<()>(&Err(LinkError::Full)));
        assert_eq!(p.stalled(), 0);
        p.record(0, Outcome::of::<()>(&Err(LinkError::Device { code: 0 })));
        p.record(0, Outcome::PeerTrouble);
        assert_eq!(p.stalled(), 1);
        p.record(0, Outcome::of(&Ok(3usize)));
        assert_eq!(p.stalled(), 0);
        p.record(8, Outcome::Stalled);
        p.record(usize::MAX, Outcome::Stalled);
        assert_eq!(p.stalled(), 0, "links beyond eight are ignored");
    }
}
