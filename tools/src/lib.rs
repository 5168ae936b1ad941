//! # warden-tools
//!
//! Operator tools for Warden.

pub mod frame;
pub mod import_heartbeat;
