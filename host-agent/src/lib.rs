//! # warden-agent
//!
//! The host agent. Its protocol half ([`protocol`]) is sans-IO: given `now`,
//! messages from the controller and the results of resource steps, it decides
//! which steps to run and what to report. Drivers do the work.
