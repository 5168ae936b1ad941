//! The agent's protocol half: sans-IO, deterministic, no Linux calls.
//!
//! It keeps the session with the controller (Hello, nonces, sequence
//! numbers), follows the latest Beat's `want` by asking its driver for
//! resource [`Step`]s (a group's resources start left to right and stop
//! right to left, one step at a time per group), and reports what the
//! system really holds in a [`Status`](warden_core::wire::Status) every
//! keepalive and at once when it changes.
//!
//! Inputs are `handle_*` calls with the current time; outputs are pulled with
//! [`Agent::poll_output`]; [`Agent::poll_timeout`] says when to call
//! [`Agent::handle_timeout`] next. The same code runs in the daemon (steps go
//! to the Linux drivers), in the simulator and in the model checker.
//!
//! Rules it keeps:
//! * It never starts a group that is not in the latest accepted Beat's
//!   `want`, and never starts anything while the controller is silent
//!   (fail-static), while its role is `Listening`, or before any Beat.
//! * It reports a group held while any of its resources may be active:
//!   a start counts as held from the moment it is asked for, and nothing is
//!   reported at all until every resource has been probed once after boot.
//! * `applied` names a Beat of the current session only, and only once
//!   every group has reached that Beat's target (or failed to).
//! * A failed start makes the group failing (it is released and reported);
//!   a failed stop makes it stuck (reported, and the controller fences).
//!   Monitor failures restart the group from the failed resource, up to
//!   `max_restarts` in `restart_window`, then make it failing.
//! * A step that outlives `step_timeout` (a driver that broke its own
//!   timeout) is never hidden: a hung start or stop makes the group stuck
//!   (the controller fences), a hung probe or monitor makes it failing.

mod agent;
mod event;
mod group;
mod step;
#[cfg(test)]
mod tests;

pub use agent::{Agent, AgentConfig, AgentConfigError, AgentOutput, AgentStats, AgentView, GroupShape, RequestError};
pub use event::{AgentEvent, RequestOutcome};
pub use step::{Action, ErrorKind, Presence, Step, StepResult};
