//! # warden-rig
//!
//! The process rig (DESIGN §6.2, §6.3): the real agent and controller
//! binaries (or the firmware under QEMU) on simulated servers in network and
//! mount namespaces, with pseudo-terminal serial lines, relays that really
//! cut power, a shared disk, fault scenarios, failover benchmarks and soaks
//! (`warden-rig`, as root).
//!
//! The deterministic simulator and the model check are `warden-sim`
//! (`hil-tests/sim`), a crate with no Linux driver in its build; the rig
//! borrows only its seeded RNG.

pub mod rig;
