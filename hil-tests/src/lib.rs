//! # warden-hil
//!
//! Test rigs for Warden:
//! * [`sim`]: deterministic simulation of the whole cluster on virtual
//!   time, with seeded faults, safety checks after every event and a
//!   liveness check after the faults stop (`warden-sim`).
//! * [`rig`]: the process rig: the real agent and controller binaries on
//!   simulated servers in namespaces, with pseudo-terminal serial lines,
//!   relays that really cut power, a shared disk, fault scenarios,
//!   failover benchmarks and soaks (`warden-rig`, as root).

pub mod rig;
pub mod sim;
