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
//!
//! ## What it is made of
//!
//! * Each server is a network namespace with its own mount namespace, its
//!   NIC on a bridge in a switch namespace; the client is another
//!   namespace on the same bridge ([`topology`], [`netns`], [`keeper`]).
//! * Each server's serial line is a pair of pseudo-terminals joined by a
//!   thread that can cut, delay or corrupt bytes ([`serial`]).
//! * The rig plays the relay board the controller talks to ([`board`]);
//!   its relays really power the servers ([`rack`], [`server`]): off kills
//!   every process of the server (found by network namespace, [`procs`]),
//!   cuts the shared disk and takes the NIC down; on boots it. A server's
//!   own supply can be cut too.
//! * The shared disk is an ext4 image on a loop device ([`disk`]).
//! * The service is this program in `serve` mode ([`service`]), run by the
//!   group as a supervised command.
//! * The client probe ([`probe`]) times the outage; the detectors
//!   ([`detect`], [`netlink`]) watch for an address or a mount on two
//!   servers at once; the writer ([`writer`]) checks that no acknowledged
//!   record is lost.
//! * Everything lands on one [`timeline`]; waits are on its entries.
//! * [`scenario`] runs the fault scenarios to a [`verdict`]; [`bench`]
//!   measures failovers; [`soak`] counts unwanted failovers; [`demo`] tells
//!   a failover step by step.
//!
//! ## Running it
//!
//! As root, after `cargo build --release --workspace` (the rig finds
//! `warden-agent` and `warden-controller` next to itself):
//!
//! ```text
//! warden-rig demo                              a failover after a power loss, step by step
//! warden-rig scenario power-loss --json        one scenario's verdict (exit 0 pass, 1 fail, 2 error)
//! warden-rig bench failover --runs 30          failover timings, min/p50/p99/max
//! warden-rig soak --minutes 10 --stress        unwanted failovers with every core busy
//! warden-rig cleanup                           what a crashed run left behind
//! ```
//!
//! It needs `ip` (iproute2), `mkfs.ext4`, `e2fsck` and `debugfs`
//! (e2fsprogs), `losetup` (mount); `stress-ng` for
//! `soak --stress` (busy threads otherwise; needed for `--stress vm` and
//! `--stress io`); `qemu-system-arm`, `defmt-print` and the
//! firmware (`cargo fw`) for `--controller qemu`. A missing one is named
//! with how to install it.
//!
//! Every name a run creates starts with its [`prefix`]; [`leftovers`] finds
//! and removes what a crashed run left. The controller is pluggable
//! ([`controller`]): the Linux controller as a process, or the firmware
//! under QEMU ([`qemu`], its log read through [`firmware_log`]).
//!
//! ## Wings
//!
//! The modules are grouped in five wings, each a module of this crate:
//!
//! * [`host`]: the machine the rig runs on: namespaces and the network
//!   between them, names, scheduling, signals, outside tools, leftovers.
//! * [`hardware`]: the simulated hardware of the servers: serial lines, the
//!   relay board, their power and the shared disk.
//! * [`controller`]: the controller under test, the Linux controller or the
//!   firmware under QEMU, and its console lines.
//! * [`watch`]: what observes a run: the client probe, the detectors, the
//!   writer and the service it writes through, the timeline, the verdict.
//! * [`runs`]: what a user runs (scenarios, the bench, the soak, the demo),
//!   the whole rig they build, its options and the files it hands to Warden.
//! * [`RigError`], at the top, is what can stop any of them.
//!
//! [`topology`]: host::topology
//! [`netns`]: host::netns
//! [`keeper`]: host::keeper
//! [`procs`]: host::procs
//! [`netlink`]: host::netlink
//! [`prefix`]: host::prefix
//! [`leftovers`]: host::leftovers
//! [`serial`]: hardware::serial
//! [`board`]: hardware::board
//! [`rack`]: hardware::rack
//! [`server`]: hardware::server
//! [`disk`]: hardware::disk
//! [`qemu`]: controller::qemu
//! [`firmware_log`]: controller::firmware_log
//! [`service`]: watch::service
//! [`probe`]: watch::probe
//! [`detect`]: watch::detect
//! [`writer`]: watch::writer
//! [`timeline`]: watch::timeline
//! [`verdict`]: watch::verdict
//! [`scenario`]: runs::scenario
//! [`bench`]: runs::bench
//! [`soak`]: runs::soak
//! [`demo`]: runs::demo

pub mod controller;
mod error;
pub mod hardware;
pub mod host;
pub mod runs;
pub mod watch;

pub use error::RigError;
pub use runs::cluster::{Rig, RunRecord};
pub use runs::options::{ControllerKind, Options};
