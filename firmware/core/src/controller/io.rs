//! What goes into the controller besides messages, and what comes out.

use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, GroupSet, NodeId, MAX_NODES};
use crate::time::Instant;
use crate::wire::Message;

/// A fence record, persisted by the driver *before* the relay is switched
/// (safety rule 3). `fenced: false` is written before an unfence powers on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FenceRecord {
    /// The node.
    pub node: NodeId,
    /// Whether it is fenced (relay must stay off).
    pub fenced: bool,
}

/// What the controller knows when it starts: the persisted fence records and
/// the sensed power of every relay, read by the driver before the first step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Boot {
    /// When the controller started.
    pub now: Instant,
    /// Random (or persisted-counter) seed for this boot's session nonces.
    pub seed: u64,
    /// Persisted fence records, by node index.
    pub fenced: [bool; MAX_NODES],
    /// Sensed relay power by node index (`None`: no sense input / unknown).
    pub powered: [Option<bool>; MAX_NODES],
}

/// An effect the driver must carry out, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// Encode and send this message on every link to `node`.
    Send {
        /// The link's server.
        node: NodeId,
        /// The message.
        message: Message,
    },
    /// Write this fence record durably, then answer with
    /// [`Controller::handle_persisted`](super::Controller::handle_persisted).
    /// The relay move the record guards comes as a later `Power` output,
    /// and only after the answer says the record is durable (rule 3).
    Persist(FenceRecord),
    /// Switch `node`'s relay.
    Power {
        /// The server.
        node: NodeId,
        /// On or off.
        on: bool,
    },
    /// Something an operator should see (log it; run the alert hook).
    Alarm(Event),
    /// Feed the hardware watchdog: the main loop is making progress (it
    /// keeps calling `handle_timeout`) and no link driver is stalled (as
    /// told through [`Controller::handle_link`](super::Controller::handle_link)).
    FeedWatchdog,
}

/// Why a group is moving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MoveReason {
    /// The holder died or was fenced.
    HolderLost,
    /// The holder reported the group failing.
    Failing,
    /// A better-connected node is eligible (ipfail).
    NetScore,
    /// Home is back and stably up.
    Failback,
    /// Operator `migrate` or `standby`.
    Operator,
    /// First placement (nobody held it).
    Placement,
}

/// A transition worth telling an operator about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    /// A node answered (first time, or again after being late/dead).
    NodeUp {
        /// The node.
        node: NodeId,
    },
    /// A node is past warntime.
    NodeLate {
        /// The node.
        node: NodeId,
    },
    /// A node is past deadtime (or its power was sensed off).
    NodeDead {
        /// The node.
        node: NodeId,
    },
    /// Fencing began: the fence record is being persisted, and the relay is
    /// commanded off once it is durable.
    FenceStarted {
        /// The node.
        node: NodeId,
    },
    /// The relay's sense confirmed the node is off.
    FenceConfirmed {
        /// The node.
        node: NodeId,
    },
    /// The power switch did not confirm off within `fence_timeout`: nothing
    /// that node might hold will move until it does.
    FenceUnconfirmed {
        /// The node.
        node: NodeId,
    },
    /// A fenced node was powered on again.
    Unfenced {
        /// The node.
        node: NodeId,
    },
    /// A group was taken from `from` (release requested).
    Releasing {
        /// The group.
        group: GroupId,
        /// The node asked to release it.
        from: NodeId,
        /// Why.
        reason: MoveReason,
    },
    /// A group was put in `to`'s want.
    Placed {
        /// The group.
        group: GroupId,
        /// The node that will hold it.
        to: NodeId,
        /// Why.
        reason: MoveReason,
    },
    /// A group cannot be placed: no eligible node is available, or damping
    /// holds it back.
    Unplaced {
        /// The group.
        group: GroupId,
    },
    /// After a controller restart, two nodes reported holding the same group.
    Conflict {
        /// The group.
        group: GroupId,
        /// Bitmask of the nodes that hold it.
        nodes: u8,
    },
    /// A node's power was sensed on while its fence record says fenced: the
    /// relay is commanded off again.
    FencedNodePowered {
        /// The node.
        node: NodeId,
    },
    /// A fence record could not be made durable: its relay is left as it
    /// is. A fence is written again every `fence_timeout` until it holds;
    /// an unfence is dropped (the operator asks again).
    PersistFailed {
        /// The node.
        node: NodeId,
        /// The record that failed: fenced (a fence) or not (an unfence).
        fenced: bool,
    },
    /// The watchdog was not fed: these link drivers are stalled (bit `i` =
    /// link `i`). Raised once; the board resets if they stay stalled.
    WatchdogWithheld {
        /// Bitmask of the stalled links.
        links: u16,
    },
    /// The watchdog is fed again: every link driver makes progress.
    WatchdogResumed,
}

/// The driver's answer to a [`Output::Persist`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Persisted {
    /// The record is on durable storage (written and synced).
    Durable,
    /// It could not be written or synced: nothing is known to be durable.
    Failed,
}

/// What a link driver's last call came to (DESIGN §3: the watchdog is fed
/// only while every link driver makes progress).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkProgress {
    /// Bytes moved, or there were none to move.
    Moved,
    /// The device itself failed (a transmitter that takes no byte, a port
    /// that errors): the driver is stalled until it moves again.
    Stalled,
    /// The peer is gone or not reading: the node's condition, not the
    /// driver's. It neither stalls nor unstalls the link, so a dead node
    /// never resets the controller that is about to fence it.
    PeerTrouble,
}

/// Life of a node as the controller sees it (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Life {
    /// Not heard since the controller started or since it was powered on.
    Booting,
    /// Answering.
    Up,
    /// Silent past warntime.
    Late,
    /// Silent past deadtime (or power sensed off), not fenced.
    Dead,
    /// Relay commanded off, waiting for the sense to confirm.
    Fencing,
    /// Power confirmed off; stays off.
    Fenced,
}

impl Life {
    /// Its name on consoles and in status output.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Booting => "booting",
            Self::Up => "up",
            Self::Late => "late",
            Self::Dead => "dead",
            Self::Fencing => "fencing",
            Self::Fenced => "fenced",
        }
    }
}

/// A node at a glance (for the console, `wardenctl status`, and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeView {
    /// The node.
    pub node: NodeId,
    /// Its life.
    pub life: Life,
    /// Operator standby (maintenance).
    pub standby: bool,
    /// Sensed power, if known.
    pub powered: Option<bool>,
    /// When the last valid message was received from it.
    pub last_heard: Option<Instant>,
    /// What the controller wants it to hold.
    pub want: GroupSet,
    /// What it last reported holding.
    pub holds: GroupSet,
    /// Its last reported ping score.
    pub net_score: u16,
}

/// A group at a glance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupView {
    /// The group.
    pub group: GroupId,
    /// The node whose want contains it, if any.
    pub placed_on: Option<NodeId>,
    /// Nodes that last reported holding it.
    pub held_by: u8,
    /// A move is under way (released somewhere, not yet placed).
    pub moving: bool,
}

/// Counters of rejected input and dropped output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ControllerStats {
    /// Messages refused by the session rules (stale nonce, replayed seq).
    pub session_rejects: u32,
    /// Messages that named a node other than their link's, or an unknown node.
    pub wrong_node: u32,
    /// Messages of a kind the controller never accepts (e.g. a Beat).
    pub unexpected: u32,
    /// Alarms dropped because the queue was full (effects are never dropped).
    pub alarms_dropped: u32,
    /// Fence records the driver could not make durable.
    pub persist_failures: u32,
    /// Answers to a Persist that was not awaited (stale or unknown).
    pub persist_unexpected: u32,
    /// Watchdog feeds withheld because a link driver was stalled.
    pub feeds_withheld: u32,
    /// Fences confirmed by the sense.
    pub fences_confirmed: u32,
    /// Fences not confirmed within `fence_timeout` (each raised the alarm).
    pub fences_unconfirmed: u32,
    /// Unfences carried out (the relay switched on).
    pub unfences: u32,
}

impl ControllerStats {
    /// Nothing counted yet.
    pub const ZERO: Self = Self {
        session_rejects: 0,
        wrong_node: 0,
        unexpected: 0,
        alarms_dropped: 0,
        persist_failures: 0,
        persist_unexpected: 0,
        feeds_withheld: 0,
        fences_confirmed: 0,
        fences_unconfirmed: 0,
        unfences: 0,
    };
}
