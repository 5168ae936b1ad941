//! # warden-agent
//!
//! The host agent that runs on every server.
//!
//! * [`protocol`]: the sans-IO half. Given `now`, messages from the controller
//!   and the results of resource steps, it decides which steps to run (start
//!   left to right, stop right to left) and what to report. No Linux calls.
//! * [`resource`]: the one trait every resource kind implements, and the
//!   typed results the protocol half understands.
//! * [`config`]: the cluster TOML, validated whole.
//! * [`drivers`]: the resource kinds on Linux (address, ARP/NA, MAC, switch
//!   notify, disk, services, monitors).

pub mod config;
pub mod drivers;
pub mod protocol;
pub mod resource;
