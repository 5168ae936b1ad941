//! The messages of the Warden protocol, as values.
//!
//! Every message carries a [`Header`] (sender node, both session nonces and
//! the sender's sequence number) and a [`Body`]. The body variants are
//! postcard enums: new variants are only ever appended, so the encoding of
//! existing ones never changes (the golden vectors in `tests/golden.rs` pin it).

use serde::{Deserialize, Serialize};

use crate::ids::{GroupId, GroupSet, NodeId};

/// Session fields carried by every message.
///
/// `node` is always the *agent's* node id, whichever way the message goes:
/// it names the link's server. `nonce` is the sender's current session nonce,
/// `echo` the sender's view of the receiver's nonce (0 when it has none yet),
/// `seq` the sender's per-direction sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// The server this link belongs to.
    pub node: NodeId,
    /// The sender's session nonce.
    pub nonce: u64,
    /// The receiver's nonce as the sender last learned it (0: unknown).
    pub echo: u64,
    /// The sender's sequence number in this direction; strictly increasing.
    pub seq: u64,
}

/// What a node is asked to be, carried in every [`Beat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// The controller is (re)starting and has not yet adopted this node's
    /// report: keep what you hold, acquire nothing, release nothing.
    Listening,
    /// A normal member: hold exactly `want`.
    Member,
    /// In maintenance (operator `standby`): hold exactly `want` (normally
    /// empty once drained).
    Standby,
}

/// Controller → agent, every keepalive and at once when `want` changes:
/// level-triggered desired state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Beat {
    /// Bumped each time this node's `want` changes (for logs and operators).
    pub epoch: u32,
    /// The groups this node should hold now (ignored when `role` is `Listening`).
    pub want: GroupSet,
    /// What the node is asked to be.
    pub role: Role,
}

/// Agent → controller, every keepalive and at once when anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    /// `seq` of the last Beat whose `want` the agent has finished reconciling
    /// (done or failed); 0 when none in this session.
    pub applied: u64,
    /// Groups of which any resource may be active on this node (probed, not
    /// remembered). A group half started or half stopped is held.
    pub holds: GroupSet,
    /// Groups being started or stopped right now.
    pub busy: GroupSet,
    /// Groups whose monitors pass.
    pub healthy: GroupSet,
    /// Groups that failed here (start failed, or local restarts exhausted):
    /// the node should not be given them.
    pub failing: GroupSet,
    /// Groups whose release failed: still held, cannot be stopped (fence me).
    pub stuck: GroupSet,
    /// Reachability of the ping nodes (ipfail's role): higher is better.
    pub net_score: u16,
}

/// An operator command, relayed by an agent from `wardenctl` (or given on the
/// controller's own console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Op {
    /// Move `group` to `node` gracefully (release, then acquire).
    Migrate {
        /// The group to move.
        group: GroupId,
        /// Where it should go.
        node: NodeId,
    },
    /// Drain `node` of its groups and give it none (maintenance).
    Standby {
        /// The node to drain.
        node: NodeId,
    },
    /// End maintenance of `node`.
    Online {
        /// The node to bring back.
        node: NodeId,
    },
    /// Power `node` off and keep it off.
    Fence {
        /// The node to fence.
        node: NodeId,
    },
    /// Admit a fenced `node` (or a dead one whose power is sensed off)
    /// back: power it on as a standby holding nothing.
    Unfence {
        /// The node to admit back.
        node: NodeId,
    },
    /// Tell the cluster as the controller sees it: answered with a
    /// [`Body::Summary`] instead of a [`Reply`]. Changes nothing.
    Describe,
    /// Tell one entry of the fence history (`back` 0: the newest):
    /// answered with a [`Body::History`]. Changes nothing.
    History {
        /// Which entry.
        back: u8,
    },
    /// Tell the controller's counters: answered with a [`Body::Counters`].
    /// Changes nothing.
    Counters,
}

/// A request from an agent: an operator command with the agent's id for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the agent; echoed in the [`Reply`].
    pub id: u32,
    /// The command.
    pub op: Op,
}

/// Why the controller refused an operator command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Refusal {
    /// The node id is not in the cluster.
    UnknownNode,
    /// The group id is not in the cluster.
    UnknownGroup,
    /// The node is not eligible for the group.
    NotEligible,
    /// The node is not up, or is fenced, in standby, or failing the group.
    NodeUnavailable,
    /// The node is neither fenced nor dead with its power off (for `unfence`).
    NotFenced,
    /// The node is already being fenced or is fenced (for `fence`).
    AlreadyFenced,
    /// Fencing this node would leave no node able to run the cluster's groups,
    /// or the command would act on the controller itself. Reserved.
    Unsafe,
}

impl Refusal {
    /// Its machine name (`node_unavailable`, ...), as the agent's control
    /// socket gives it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnknownNode => "unknown_node",
            Self::UnknownGroup => "unknown_group",
            Self::NotEligible => "not_eligible",
            Self::NodeUnavailable => "node_unavailable",
            Self::NotFenced => "not_fenced",
            Self::AlreadyFenced => "already_fenced",
            Self::Unsafe => "unsafe",
        }
    }

    /// Its words for a person.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::UnknownNode => "no such node in the cluster",
            Self::UnknownGroup => "no such group in the cluster",
            Self::NotEligible => "the node is not eligible for that group",
            Self::NodeUnavailable => "the node is not up, or is fenced, in standby, or failing that group",
            Self::NotFenced => "the node is neither fenced nor dead with its power off",
            Self::AlreadyFenced => "the node is already fenced or being fenced",
            Self::Unsafe => "refused as unsafe",
        }
    }
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The controller's answer to a [`Request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reply {
    /// The request's id.
    pub id: u32,
    /// `Ok(())` when accepted (it then takes effect through beats), or why not.
    pub outcome: Result<(), Refusal>,
}

/// The body of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Body {
    /// Agent → controller: start (or restart) a session with `header.nonce`.
    Hello,
    /// Controller → agent: desired state.
    Beat(Beat),
    /// Agent → controller: what the node really holds.
    Status(Status),
    /// Agent → controller: an operator command.
    Request(Request),
    /// Controller → agent: the answer to a request.
    Reply(Reply),
    /// Agent → controller: alive and in session, but still probing the
    /// system after a start: no report yet (a Status would be adopted).
    Probing,
    /// Controller → agent: the answer to an `Op::Describe` request.
    Summary(super::summary::Summary),
    /// Controller → agent: the answer to an `Op::History` request.
    History(super::history::HistoryAnswer),
    /// Controller → agent: the answer to an `Op::Counters` request.
    Counters(super::history::CountersAnswer),
}

/// A whole message: header and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// Session fields.
    pub header: Header,
    /// What it says.
    pub body: Body,
}
