//! # warden-tools
//!
//! Operator tools for Warden.

pub mod import_heartbeat;
