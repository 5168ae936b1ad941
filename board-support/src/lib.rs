//! # warden-bsp
//!
//! The traits the controller needs that embedded-hal 1.0 does not have, and
//! their implementations (linux, sim, rig).
