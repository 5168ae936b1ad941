//! Resource steps: what the protocol half asks a driver to do, and what the
//! driver answers.

use warden_core::GroupId;

use crate::resource::{ErrorKind, Presence};

/// What to do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Bring it up ([`crate::resource::Resource::start`]).
    Start,
    /// Take it down ([`crate::resource::Resource::stop`]).
    Stop,
    /// Look whether it is there ([`crate::resource::Resource::probe`]).
    Probe,
    /// Check that it works ([`crate::resource::Resource::monitor`]).
    Monitor,
}

/// One step on one resource of one group. A group has at most one step
/// outstanding at a time; steps of different groups may run concurrently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Step {
    /// The group.
    pub group: GroupId,
    /// The resource's index in the group (start order).
    pub resource: u8,
    /// What to do.
    pub action: Action,
}

/// How a step ended, as the driver reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepResult {
    /// A start or stop finished.
    Done,
    /// A probe's answer.
    Present(Presence),
    /// A monitor passed.
    Healthy,
    /// A monitor failed.
    Unhealthy,
    /// The step failed (any action).
    Failed(ErrorKind),
}

impl core::fmt::Display for Action {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Probe => "probe",
            Self::Monitor => "monitor",
        })
    }
}

impl core::fmt::Display for Step {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {} resource {}", self.action, self.group, self.resource)
    }
}
