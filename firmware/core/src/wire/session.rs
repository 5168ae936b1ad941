//! Session rules: nonces, sequence numbers, replay rejection (DESIGN §2).
//!
//! Only the agent starts sessions, so handshakes never cross:
//!
//! * The agent ([`Initiator`]) picks a fresh nonce for every handshake
//!   (`boot nonce + k`) and sends `Hello` with it until a Beat arrives that
//!   echoes it. It accepts a Beat only if `echo` equals its current nonce, the
//!   sender nonce equals the controller nonce learned from the first such Beat,
//!   and `seq` is above the last accepted. A Beat from another controller
//!   nonce, or one that echoes an old agent nonce, starts a new handshake
//!   (rate-limited by the caller): the controller rebooted, or someone replays.
//! * The controller ([`Responder`], one per node) accepts a `Hello` at any time
//!   (it is authenticated): it moves its own nonce on (`+1`), learns the agent's
//!   nonce and forgets the last sequence number. It accepts any other message
//!   only if the sender nonce is the learned one, `echo` is its own current
//!   nonce, and `seq` is above the last accepted.
//! * The controller's sending sequence number never restarts within a boot, so
//!   a Status's `applied` can always be compared with the seq of a Beat.
//!
//! A recording of an older session can never be replayed into a newer one:
//! every message of the older session echoes a nonce the receiver has since
//! moved away from.
//!
//! Two refinements keep this live and safe in practice:
//!
//! * A `Hello` that repeats the agent nonce the controller has already learned
//!   (a retransmission, or the same Hello over a redundant link) changes
//!   nothing; otherwise every copy would move the controller's nonce on and
//!   invalidate the Beats already sent for the first one.
//! * Nonce 0 means "unknown" on the wire, so no side ever uses it as its own
//!   nonce: bumps wrap and skip it. A message whose sender nonce is 0 is
//!   refused, and a Hello with nonce 0 changes nothing.
//!
//! Boot nonces must not repeat nonces used in earlier boots: take them from a
//! random source, or from a persisted counter spaced so that `+k` bumps never
//! reach the next boot's value (for instance `counter << 32`).

use core::fmt;

use super::{Body, Header, Message};
use crate::ids::NodeId;

/// Why a received message was refused by the session rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionError {
    /// `echo` is not the receiver's current nonce: a message of an older
    /// session, or the sender has not seen the receiver's latest handshake.
    WrongEcho {
        /// The receiver's current nonce.
        expected: u64,
        /// The nonce the message echoed.
        got: u64,
    },
    /// The sender claims no session nonce (0).
    UnknownPeer,
    /// The sender's nonce is not the one learned at the handshake.
    WrongPeer {
        /// The learned nonce.
        expected: u64,
        /// The sender's nonce in the message.
        got: u64,
    },
    /// `seq` is not above the last accepted one: a duplicate or a replay.
    Replay {
        /// The last accepted sequence number.
        last: u64,
        /// The message's sequence number.
        got: u64,
    },
    /// No handshake yet: the controller has had no `Hello` from this node.
    NotEstablished,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WrongEcho { expected, got } => {
                write!(f, "message echoes nonce {got:#x}, current nonce is {expected:#x}")
            }
            Self::UnknownPeer => f.write_str("sender has no session nonce"),
            Self::WrongPeer { expected, got } => {
                write!(f, "sender nonce {got:#x} is not the session's {expected:#x}")
            }
            Self::Replay { last, got } => {
                write!(f, "sequence number {got} not above last accepted {last}")
            }
            Self::NotEstablished => f.write_str("no session yet (no Hello from this node)"),
        }
    }
}

impl core::error::Error for SessionError {}

/// A usable own nonce: never 0, which means "unknown".
const fn own_nonce(nonce: u64) -> u64 {
    if nonce == 0 {
        1
    } else {
        nonce
    }
}

/// The next own nonce, wrapping past `u64::MAX` and skipping 0.
const fn bump(nonce: u64) -> u64 {
    own_nonce(nonce.wrapping_add(1))
}

/// Checks `seq` against the last accepted one and records it.
fn advance(last: &mut u64, seq: u64) -> Result<(), SessionError> {
    if seq <= *last {
        return Err(SessionError::Replay { last: *last, got: seq });
    }
    *last = seq;
    Ok(())
}

/// The agent's side of a link's session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Initiator {
    /// Own nonce of the current handshake (never 0).
    nonce: u64,
    /// The controller's nonce learned from the first Beat echoing `nonce`; 0 until then.
    peer: u64,
    /// Last accepted controller sequence number in this session.
    received: u64,
    /// Last sequence number sent; never restarts within a boot.
    sent: u64,
}

impl Initiator {
    /// A session side for a fresh boot; `boot_nonce` is the first handshake's
    /// nonce (0 is replaced by 1). Ready to send `Hello`.
    #[must_use]
    pub const fn new(boot_nonce: u64) -> Self {
        Self { nonce: own_nonce(boot_nonce), peer: 0, received: 0, sent: 0 }
    }

    /// Starts a new handshake: a fresh own nonce (`+1`), and the controller's
    /// nonce and sequence numbers forgotten.
    pub fn start_handshake(&mut self) {
        self.nonce = bump(self.nonce);
        self.peer = 0;
        self.received = 0;
    }

    /// A `Hello` with the current nonce and the next sequence number.
    pub fn hello(&mut self, node: NodeId) -> Message {
        Message { header: self.header(node), body: Body::Hello }
    }

    /// The header for the next message: next sequence number, own nonce, and
    /// the learned controller nonce as `echo` (0 while there is none).
    pub fn header(&mut self, node: NodeId) -> Header {
        self.sent = self.sent.saturating_add(1);
        Header { node, nonce: self.nonce, echo: self.peer, seq: self.sent }
    }

    /// Applies the session rules to a received `Beat` or `Reply`. On success
    /// the message is new and of the current session; on error nothing changes.
    ///
    /// # Errors
    ///
    /// [`SessionError::WrongEcho`] (an old session, or a rebooted controller:
    /// the caller should start a new handshake), [`SessionError::UnknownPeer`],
    /// [`SessionError::WrongPeer`] (the controller moved to another nonce:
    /// start a new handshake), [`SessionError::Replay`].
    pub fn accept(&mut self, header: &Header) -> Result<(), SessionError> {
        if header.echo != self.nonce {
            return Err(SessionError::WrongEcho { expected: self.nonce, got: header.echo });
        }
        if header.nonce == 0 {
            return Err(SessionError::UnknownPeer);
        }
        if self.peer != 0 && header.nonce != self.peer {
            return Err(SessionError::WrongPeer { expected: self.peer, got: header.nonce });
        }
        advance(&mut self.received, header.seq)?;
        // The first Beat echoing this handshake's nonce names the controller's session.
        self.peer = header.nonce;
        Ok(())
    }

    /// Whether a Beat has answered the current handshake.
    #[must_use]
    pub const fn is_established(&self) -> bool {
        self.peer != 0
    }

    /// The current own nonce.
    #[must_use]
    pub const fn nonce(&self) -> u64 {
        self.nonce
    }
}

/// The controller's side of one node's session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Responder {
    /// Own nonce (never 0); moves on at every new Hello.
    nonce: u64,
    /// The agent's nonce learned from its Hello; 0 until then.
    peer: u64,
    /// Last accepted agent sequence number in this session.
    received: u64,
    /// Last sequence number sent; never restarts within a boot.
    sent: u64,
}

impl Responder {
    /// A session side for a fresh boot (`boot_nonce` 0 is replaced by 1).
    #[must_use]
    pub const fn new(boot_nonce: u64) -> Self {
        Self { nonce: own_nonce(boot_nonce), peer: 0, received: 0, sent: 0 }
    }

    /// Applies an authenticated `Hello`: moves the own nonce on (`+1`), learns
    /// the agent's nonce and forgets the last sequence number. A Hello
    /// repeating the learned nonce, or with nonce 0, changes nothing.
    pub fn accept_hello(&mut self, header: &Header) {
        if header.nonce == 0 || header.nonce == self.peer {
            return;
        }
        self.nonce = bump(self.nonce);
        self.peer = header.nonce;
        self.received = 0;
    }

    /// Applies the session rules to a received `Status` or `Request`. On
    /// success the message is new and of the current session; on error
    /// nothing changes.
    ///
    /// # Errors
    ///
    /// [`SessionError::NotEstablished`] before any Hello,
    /// [`SessionError::UnknownPeer`], [`SessionError::WrongPeer`],
    /// [`SessionError::WrongEcho`], [`SessionError::Replay`].
    pub fn accept(&mut self, header: &Header) -> Result<(), SessionError> {
        if self.peer == 0 {
            return Err(SessionError::NotEstablished);
        }
        if header.nonce == 0 {
            return Err(SessionError::UnknownPeer);
        }
        if header.nonce != self.peer {
            return Err(SessionError::WrongPeer { expected: self.peer, got: header.nonce });
        }
        if header.echo != self.nonce {
            return Err(SessionError::WrongEcho { expected: self.nonce, got: header.echo });
        }
        advance(&mut self.received, header.seq)
    }

    /// The header for the next message to this node: next sequence number
    /// (never restarts within a boot), own nonce, and the learned agent nonce
    /// as `echo` (0 while there is none).
    pub fn header(&mut self, node: NodeId) -> Header {
        self.sent = self.sent.saturating_add(1);
        Header { node, nonce: self.nonce, echo: self.peer, seq: self.sent }
    }

    /// The sequence number of the last header handed out (0: none yet).
    #[must_use]
    pub const fn last_sent_seq(&self) -> u64 {
        self.sent
    }

    /// Whether a Hello has been accepted.
    #[must_use]
    pub const fn is_established(&self) -> bool {
        self.peer != 0
    }

    /// The agent's nonce learned from its Hello (0: none yet).
    #[must_use]
    pub const fn peer_nonce(&self) -> u64 {
        self.peer
    }

    /// The current own nonce.
    #[must_use]
    pub const fn nonce(&self) -> u64 {
        self.nonce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE: NodeId = NodeId(3);

    /// An agent and a controller side with a completed handshake.
    fn established() -> (Initiator, Responder) {
        let mut agent = Initiator::new(100);
        let mut controller = Responder::new(500);
        let hello = agent.hello(NODE);
        controller.accept_hello(&hello.header);
        let beat = controller.header(NODE);
        agent.accept(&beat).unwrap();
        assert!(agent.is_established() && controller.is_established());
        (agent, controller)
    }

    #[test]
    fn handshake_then_both_directions_flow() {
        let (mut agent, mut controller) = established();
        assert_eq!(controller.nonce(), 501, "a Hello moves the controller's nonce on");
        for _ in 0..3 {
            controller.accept(&agent.header(NODE)).unwrap();
            agent.accept(&controller.header(NODE)).unwrap();
        }
    }

    #[test]
    fn duplicates_and_older_seqs_are_replays() {
        let (mut agent, mut controller) = established();
        let first = agent.header(NODE);
        let second = agent.header(NODE);
        controller.accept(&second).unwrap();
        assert_eq!(controller.accept(&second), Err(SessionError::Replay { last: second.seq, got: second.seq }));
        assert_eq!(controller.accept(&first), Err(SessionError::Replay { last: second.seq, got: first.seq }));

        let beat = controller.header(NODE);
        agent.accept(&beat).unwrap();
        assert_eq!(agent.accept(&beat), Err(SessionError::Replay { last: beat.seq, got: beat.seq }));
    }

    #[test]
    fn controller_refuses_everything_before_a_hello() {
        let mut agent = Initiator::new(1);
        let mut controller = Responder::new(2);
        assert_eq!(controller.accept(&agent.header(NODE)), Err(SessionError::NotEstablished));
        assert!(!controller.is_established());
        // Its beats echo 0, which is never the agent's nonce.
        let beat = controller.header(NODE);
        assert_eq!(beat.echo, 0);
        assert_eq!(agent.accept(&beat), Err(SessionError::WrongEcho { expected: 1, got: 0 }));
    }

    #[test]
    fn zero_is_never_an_own_nonce() {
        assert_eq!(Initiator::new(0).nonce(), 1);
        assert_eq!(Responder::new(0).nonce(), 1);
        let mut agent = Initiator::new(u64::MAX);
        agent.start_handshake();
        assert_eq!(agent.nonce(), 1, "wraps past u64::MAX and skips 0");

        let mut controller = Responder::new(u64::MAX);
        controller.accept_hello(&Header { node: NODE, nonce: 9, echo: 0, seq: 1 });
        assert_eq!(controller.nonce(), 1);
    }

    #[test]
    fn sender_nonce_zero_is_refused() {
        let (mut agent, mut controller) = established();
        let mut status = agent.header(NODE);
        status.nonce = 0;
        assert_eq!(controller.accept(&status), Err(SessionError::UnknownPeer));
        let mut beat = controller.header(NODE);
        beat.nonce = 0;
        assert_eq!(agent.accept(&beat), Err(SessionError::UnknownPeer));

        let before = controller.clone();
        controller.accept_hello(&Header { node: NODE, nonce: 0, echo: 0, seq: 99 });
        assert_eq!(controller, before);
    }

    #[test]
    fn repeated_hello_changes_nothing_new_hello_rekeys() {
        let mut agent = Initiator::new(10);
        let mut controller = Responder::new(20);
        let hello = agent.hello(NODE);
        controller.accept_hello(&hello.header);
        let after_first = controller.clone();
        // The same Hello again (retransmitted or over a second link).
        controller.accept_hello(&hello.header);
        assert_eq!(controller, after_first);
        agent.accept(&controller.header(NODE)).unwrap();

        agent.start_handshake();
        assert!(!agent.is_established());
        controller.accept_hello(&agent.hello(NODE).header);
        assert_eq!(controller.nonce(), 22);
    }

    #[test]
    fn agent_learns_controller_nonce_once_per_handshake() {
        let (mut agent, mut controller) = established();
        // The controller rekeys for a Hello the agent did not send (say, a
        // replayed one): its beats now carry another nonce and echo another
        // agent nonce, and the agent refuses them.
        controller.accept_hello(&Header { node: NODE, nonce: 4242, echo: 0, seq: 1 });
        let beat = controller.header(NODE);
        assert_eq!(agent.accept(&beat), Err(SessionError::WrongEcho { expected: agent.nonce(), got: 4242 }));
        // A beat that echoes the agent but comes from another controller nonce.
        let forged = Header { node: NODE, nonce: beat.nonce, echo: agent.nonce(), seq: beat.seq };
        assert!(matches!(agent.accept(&forged), Err(SessionError::WrongPeer { .. })));
    }
}
