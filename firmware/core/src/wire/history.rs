//! What the controller tells an operator beside the [`super::Summary`]:
//! its counters ([`CountersAnswer`], answering `Op::Counters`, so that an
//! agent can publish a firmware controller's figures), and its fence
//! history on the wire: one entry per answer
//! (`Op::History { back }` is answered by a [`HistoryAnswer`]), so that an
//! entry always fits a frame. `back` 0 is the newest; the answer says how
//! many entries the controller holds, so a client asks `0..held`.

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;

/// Fence or unfence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FenceAction {
    /// The fence record written, the relay cut, the power sensed off.
    Fence,
    /// The record cleared, the relay switched on.
    Unfence,
}

/// Why the controller fenced or unfenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FenceReason {
    /// Silent past deadtime, or its power lost, and it may hold something.
    Dead,
    /// It reported a group it cannot stop.
    Stuck,
    /// It did not release a group within `release_timeout`.
    ReleaseOverdue,
    /// An operator asked.
    Operator,
    /// `auto_unfence_after` passed.
    AutoUnfence,
    /// It was fenced and its power was sensed on (rule 3: switched off again).
    PoweredWhileFenced,
    /// Its fence record was found at the controller's start with its power
    /// not off (commanded off again).
    FencedAtStart,
}

/// Who asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Requester {
    /// The controller's own decision.
    Controller,
    /// An operator on the controller: its console, its control socket, its
    /// operator endpoint.
    Operator,
    /// An operator whose request this node's agent relayed.
    Agent(NodeId),
}

/// How it ended, or where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FenceResult {
    /// Under way.
    Pending,
    /// Done: for a fence, the power sensed off; for an unfence, the relay
    /// commanded on after the record was durable.
    Confirmed,
    /// A fence not confirmed within `fence_timeout` (alarm raised; the
    /// controller keeps commanding the relay off).
    Unconfirmed,
    /// The fence record could not be written (a fence keeps trying; an
    /// unfence is dropped and the node stays fenced).
    Failed,
}

impl FenceAction {
    /// Its machine name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Fence => "fence",
            Self::Unfence => "unfence",
        }
    }
}

impl FenceReason {
    /// Its machine name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Dead => "dead",
            Self::Stuck => "stuck",
            Self::ReleaseOverdue => "release_overdue",
            Self::Operator => "operator",
            Self::AutoUnfence => "auto_unfence",
            Self::PoweredWhileFenced => "powered_while_fenced",
            Self::FencedAtStart => "fenced_at_start",
        }
    }
}

impl Requester {
    /// Its machine name (the agent's node is told apart).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Controller => "controller",
            Self::Operator => "operator",
            Self::Agent(_) => "agent",
        }
    }
}

impl FenceResult {
    /// Its machine name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Unconfirmed => "unconfirmed",
            Self::Failed => "failed",
        }
    }
}

/// One fence or unfence, as the controller tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FenceOp {
    /// The node.
    pub node: NodeId,
    /// Fence or unfence.
    pub action: FenceAction,
    /// Why.
    pub reason: FenceReason,
    /// Who asked.
    pub by: Requester,
    /// How long ago it started, in ms (saturating).
    pub started_ago_ms: u32,
    /// From its start to its confirmation (or failure), in ms; `None`
    /// while under way.
    pub took_ms: Option<u32>,
    /// Where it stands.
    pub result: FenceResult,
}

/// Controller → agent (or operator client): one entry of the fence
/// history, answering `Op::History { back }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HistoryAnswer {
    /// The request it answers.
    pub id: u32,
    /// Which entry: 0 is the newest.
    pub back: u8,
    /// Entries the controller holds now (at most its history's length).
    pub held: u8,
    /// Fences and unfences since the controller started (older ones have
    /// left the history).
    pub total: u32,
    /// The entry (`None` when `back >= held`).
    pub entry: Option<FenceOp>,
}

/// What the board's drivers counted, handed to the controller by its
/// driver (`Controller::note_board`) so that `Op::Counters` tells them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BoardCounters {
    /// Relay switches the hardware refused or did not answer.
    pub relay_errors: u32,
    /// Relay sense readings that failed.
    pub sense_errors: u32,
    /// Frames refused on every link (corrupt, wrong key, too long).
    pub frames_refused: u32,
}

/// Controller → agent (or operator client): the controller's counters,
/// answering `Op::Counters`. They saturate, and restart at 0 with the
/// controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CountersAnswer {
    /// The request it answers.
    pub id: u32,
    /// Seconds since the controller started (saturating).
    pub uptime_s: u32,
    /// Messages refused by the session rules.
    pub session_rejects: u32,
    /// Messages naming another node than their link's.
    pub wrong_node: u32,
    /// Alarms dropped (queue full).
    pub alarms_dropped: u32,
    /// Fence records the store could not make durable.
    pub persist_failures: u32,
    /// Watchdog feeds withheld (a link driver stalled).
    pub feeds_withheld: u32,
    /// Fences confirmed by the sense.
    pub fences_confirmed: u32,
    /// Fences not confirmed within `fence_timeout`.
    pub fences_unconfirmed: u32,
    /// Unfences carried out.
    pub unfences: u32,
    /// What the board's drivers counted.
    pub board: BoardCounters,
}
