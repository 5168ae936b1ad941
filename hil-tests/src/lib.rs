//! # warden-hil
//!
//! Test rigs for Warden:
//! * [`sim`]: deterministic simulation of the whole cluster on virtual
//!   time, with seeded faults, safety checks after every event and a
//!   liveness check after the faults stop (`warden-sim`).

pub mod sim;
