//! # warden-tools
//!
//! Operator tools for Warden.

pub mod ctl;
pub mod fence;
pub mod frame;
pub mod import_heartbeat;
pub mod operator;
