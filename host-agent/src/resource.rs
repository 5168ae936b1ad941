//! The seam between the agent's protocol half and its drivers.
//!
//! A group is an ordered list of resources. The protocol half decides *which*
//! step to run on *which* resource; a driver implementing [`Resource`] runs it
//! against the real system and answers with a typed result. The simulator
//! implements the same trait over a simulated world.
//!
//! Contract for implementors:
//! * `start` and `stop` are idempotent: starting an active resource or stopping
//!   an inactive one succeeds without doing anything.
//! * `probe` looks at the real system (never at memory) and is cheap.
//! * Every call returns within the resource's configured timeout; a call that
//!   cannot finish in time returns [`ErrorKind::Timeout`] and leaves the
//!   resource as it found it or reports it [`Presence::Unknown`] on the next probe.
//! * Errors name the thing that was wrong (the address, the device, the unit).

use std::fmt;

pub use warden_agent_proto::{ErrorKind, Presence};

/// Result of a monitor check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The check passed.
    Healthy,
    /// The check failed; the text says how (for logs and alerts).
    Unhealthy(String),
}

/// A failed step: what kind of failure, and a message naming the thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError {
    /// The kind of failure.
    pub kind: ErrorKind,
    /// What was wrong, naming the resource.
    pub message: String,
}

impl ResourceError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ResourceError {}

/// One resource of a group, on the real system (or a simulated one).
pub trait Resource: Send {
    /// A short description naming it, e.g. `address 10.0.0.5/24 on eth0`.
    fn describe(&self) -> String;
    /// Bring it up. Idempotent.
    fn start(&mut self) -> Result<(), ResourceError>;
    /// Take it down. Idempotent. A stop that cannot complete is an error,
    /// never hidden: the controller then fences the node.
    fn stop(&mut self) -> Result<(), ResourceError>;
    /// Is it there? Looks at the real system.
    fn probe(&mut self) -> Result<Presence, ResourceError>;
    /// Waits for work `start` left running in the background (an address's
    /// later announcements) to finish: for a caller about to exit, such as
    /// a one-shot debug command. By default there is none.
    fn settle(&mut self) -> Result<(), ResourceError> {
        Ok(())
    }

    /// Is it working? By default: healthy when the probe finds it active.
    fn monitor(&mut self) -> Result<Health, ResourceError> {
        match self.probe()? {
            Presence::Active => Ok(Health::Healthy),
            Presence::Inactive => Ok(Health::Unhealthy(format!("{} is not active", self.describe()))),
            Presence::Unknown => Ok(Health::Unhealthy(format!("{} is in an unknown state", self.describe()))),
        }
    }
}
