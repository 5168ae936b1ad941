//! Transitions of the agent worth telling an operator (logs, alert command).

use warden_core::wire::Refusal;
use warden_core::GroupId;

use super::step::StepResult;

/// Something that happened on this node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentEvent {
    /// A Beat answered the current handshake: the controller hears us.
    Connected,
    /// The controller's beats were refused by the session rules (it
    /// restarted, or its session moved on): a new handshake starts.
    Rehandshake,
    /// No Beat for `controller_silence`: keep what is held, acquire nothing.
    ControllerSilent,
    /// Beats again after a silence.
    ControllerBack,
    /// Every resource of the group is active.
    Acquired {
        /// The group.
        group: GroupId,
    },
    /// Every resource of the group is inactive.
    Released {
        /// The group.
        group: GroupId,
    },
    /// A start failed: the group is released and reported failing.
    StartFailed {
        /// The group.
        group: GroupId,
        /// The resource's index.
        resource: u8,
        /// What the driver said.
        result: StepResult,
    },
    /// A stop failed: the group is reported stuck (the controller fences).
    StopFailed {
        /// The group.
        group: GroupId,
        /// The resource's index.
        resource: u8,
        /// What the driver said.
        result: StepResult,
    },
    /// A monitor failed.
    MonitorFailed {
        /// The group.
        group: GroupId,
        /// The resource's index.
        resource: u8,
        /// What the driver said.
        result: StepResult,
    },
    /// A local restart of the group from resource `from`.
    Restarting {
        /// The group.
        group: GroupId,
        /// First resource restarted.
        from: u8,
        /// Restarts within the window, this one included.
        attempt: u32,
    },
    /// The group failed here (start failed or restarts ran out).
    Failing {
        /// The group.
        group: GroupId,
    },
    /// A step has not ended within the step timeout.
    StepOverdue {
        /// The group.
        group: GroupId,
        /// The resource's index.
        resource: u8,
        /// What the step was.
        action: super::step::Action,
    },
}

impl AgentEvent {
    /// One event of every kind (for what must name them all: docs, tests);
    /// a kind added to [`AgentEvent`] is a compile error in
    /// [`AgentEvent::name`] until it is named; add it here too.
    pub const EVERY_KIND: [Self; 12] = {
        let group = GroupId(0);
        let result = StepResult::Failed(super::step::ErrorKind::Failed);
        [
            Self::Connected,
            Self::Rehandshake,
            Self::ControllerSilent,
            Self::ControllerBack,
            Self::Acquired { group },
            Self::Released { group },
            Self::StartFailed { group, resource: 0, result },
            Self::StopFailed { group, resource: 0, result },
            Self::MonitorFailed { group, resource: 0, result },
            Self::Restarting { group, from: 0, attempt: 1 },
            Self::Failing { group },
            Self::StepOverdue { group, resource: 0, action: super::step::Action::Start },
        ]
    };

    /// A short name for the alert command's environment (`WARDEN_EVENT`).
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Rehandshake => "rehandshake",
            Self::ControllerSilent => "controller-silent",
            Self::ControllerBack => "controller-back",
            Self::Acquired { .. } => "acquired",
            Self::Released { .. } => "released",
            Self::StartFailed { .. } => "start-failed",
            Self::StopFailed { .. } => "stop-failed",
            Self::MonitorFailed { .. } => "monitor-failed",
            Self::Restarting { .. } => "restarting",
            Self::Failing { .. } => "failing",
            Self::StepOverdue { .. } => "step-overdue",
        }
    }

    /// The group it concerns, if any.
    #[must_use]
    pub const fn group(&self) -> Option<GroupId> {
        match self {
            Self::Acquired { group }
            | Self::Released { group }
            | Self::StartFailed { group, .. }
            | Self::StopFailed { group, .. }
            | Self::MonitorFailed { group, .. }
            | Self::Restarting { group, .. }
            | Self::Failing { group }
            | Self::StepOverdue { group, .. } => Some(*group),
            Self::Connected | Self::Rehandshake | Self::ControllerSilent | Self::ControllerBack => None,
        }
    }
}

impl core::fmt::Display for AgentEvent {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Connected => f.write_str("session with the controller established"),
            Self::Rehandshake => f.write_str("controller session refused our messages; new handshake"),
            Self::ControllerSilent => f.write_str("controller silent: keeping what is held, acquiring nothing"),
            Self::ControllerBack => f.write_str("controller heard again"),
            Self::Acquired { group } => write!(f, "{group} acquired"),
            Self::Released { group } => write!(f, "{group} released"),
            Self::StartFailed { group, resource, result } => {
                write!(f, "{group} resource {resource} failed to start ({result:?})")
            }
            Self::StopFailed { group, resource, result } => {
                write!(f, "{group} resource {resource} failed to stop ({result:?}): cannot release")
            }
            Self::MonitorFailed { group, resource, result } => {
                write!(f, "{group} resource {resource} failed its monitor ({result:?})")
            }
            Self::Restarting { group, from, attempt } => {
                write!(f, "{group} restarting from resource {from} (restart {attempt})")
            }
            Self::Failing { group } => write!(f, "{group} failing here: releasing it"),
            Self::StepOverdue { group, resource, action } => {
                write!(f, "{group} resource {resource}: {action} has not ended in time; reported stuck/failing")
            }
        }
    }
}

/// The controller's answer to an operator request, for the requester.
pub type RequestOutcome = Result<(), Refusal>;
