//! # warden-agent
//!
//! The host agent that runs on every server.
//!
//! * The sans-IO protocol half lives in `warden-agent-proto` (given `now`,
//!   messages from the controller and the results of resource steps, it
//!   decides which steps to run and what to report), and the cluster file in
//!   `warden-cluster`; both are shared with the controller and the simulator,
//!   so they sit below this crate.
//! * [`resource`]: the one trait every resource kind implements, and the
//!   typed results the protocol half understands.
//! * [`drivers`]: the resource kinds on Linux (address, ARP/NA, MAC, switch
//!   notify, disk, services, monitors).
//! * [`assemble`]: a group's resources built from its configuration, in the
//!   order the protocol half counts them; [`perform`]: one step run on one.
//! * The local control socket's JSON-lines protocol and client are
//!   `warden-control`, shared with `wardenctl`.
//! * [`daemon`]: `warden-agent run`: links, workers, pings, alerts, systemd,
//!   all around one `poll(2)` loop driving the protocol half.
//! * [`debug`]: `debug-start`, `debug-stop`, `debug-monitor`: one group's
//!   resources run by hand, step by step.
//! * [`lock`]: the lock a running agent (or debug command) holds.

pub mod assemble;
pub mod daemon;
pub mod debug;
pub mod drivers;
pub mod lock;
pub mod perform;
pub mod resource;
