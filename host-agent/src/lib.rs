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
//! * [`assemble`]: a group's resources built from its configuration, in the
//!   order the protocol half counts them; [`perform`]: one step run on one.
//! * [`control`]: the local control socket's JSON-lines protocol and client.
//! * [`daemon`]: `warden-agent run`: links, workers, pings, alerts, systemd,
//!   all around one `poll(2)` loop driving the protocol half.
//! * [`debug`]: `debug-start`, `debug-stop`, `debug-monitor`: one group's
//!   resources run by hand, step by step.
//! * [`lock`]: the lock a running agent (or debug command) holds.

pub mod assemble;
pub mod config;
pub mod control;
pub mod daemon;
pub mod debug;
pub mod drivers;
pub mod lock;
pub mod perform;
pub mod protocol;
pub mod resource;
