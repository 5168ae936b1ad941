//! # warden-controller-linux
//!
//! The controller of DESIGN §3 on a Linux single-board computer: the core's
//! sans-IO [`Controller`](warden_core::controller::Controller) driven by
//! real devices from `warden-bsp` (serial and UDP links, a serial relay
//! module or gpio-cdev relays with sense lines, `/dev/watchdog`, the fence
//! file).
//!
//! ## Layers
//!
//! * The controller's own hardware file is read by
//!   [`warden_cluster::hardware`], checked against the cluster file.
//! * [`relays`]: every node's relay behind one [`PowerSwitch`](warden_bsp::PowerSwitch).
//! * [`links`]: every node's links, with a frame decoder and counters each.
//! * [`alert`]: the alert command, queued to a thread of its own.
//! * [`control`]: operator requests on the control socket, parsed and checked.
//! * [`operator`]: operator requests over UDP, authenticated, for hosts with
//!   no agent (Pacemaker's `fence_warden`, `wardenctl --controller`).
//! * [`report`]: the console lines, the status table and the status JSON.
//! * [`metrics`]: Prometheus metrics over HTTP (`[controller] metrics`), from
//!   snapshots the main loop publishes, served by threads of their own.
//! * [`run`]: boot (rule 4) and the main loop that carries out the
//!   controller's outputs in order.

pub mod alert;
pub mod control;
pub mod links;
pub mod metrics;
pub mod operator;
pub mod relay_worker;
pub mod relays;
pub mod report;
pub mod run;

/// The small cluster file (alpha, beta, group web) the hardware file's own
/// tests use, shared with the tests here.
#[cfg(test)]
#[path = "../../cluster/src/hardware/fixture.rs"]
#[allow(dead_code)]
mod fixture;
