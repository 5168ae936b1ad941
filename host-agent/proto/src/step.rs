//! Resource steps: what the protocol half asks a driver to do, and what the
//! driver answers.

use warden_core::GroupId;

/// What to do to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Bring it up (the driver's `start`).
    Start,
    /// Take it down (the driver's `stop`).
    Stop,
    /// Look whether it is there (the driver's `probe`).
    Probe,
    /// Check that it works (the driver's `monitor`).
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

/// Whether a resource is there, as probed on the real system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Presence {
    /// Fully there (address on the interface, disk mounted, service running).
    Active,
    /// Not there at all.
    Inactive,
    /// Cannot tell, or only partly there: treated as held for safety.
    Unknown,
}

/// What kind of failure a step hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The step ran and failed.
    Failed,
    /// The step did not finish within its timeout.
    Timeout,
    /// Something it needs is missing (a script, a command, a device).
    NotInstalled,
    /// The resource's parameters are wrong.
    Config,
    /// The resource is held by something that would not let go (a busy mount).
    Busy,
    /// The agent lacks the privilege to do it.
    Permission,
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
