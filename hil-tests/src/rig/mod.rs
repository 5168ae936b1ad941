//! The process rig (DESIGN §6.2): the real `warden-agent` and
//! `warden-controller` binaries on simulated hardware, as root.
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
//! (e2fsprogs), `losetup` (mount), `xfs_io` (xfsprogs); `stress-ng` for
//! `soak --stress` (busy threads otherwise); `chrt` (util-linux) for
//! `--controller-realtime`; `qemu-system-arm`, `defmt-print` and the
//! firmware (`cargo fw`) for `--controller qemu`. A missing one is named
//! with how to install it.
//!
//! Every name a run creates starts with its [`prefix`]; [`leftovers`] finds
//! and removes what a crashed run left. The controller is pluggable
//! ([`controller`]): the Linux controller as a process, or the firmware
//! under QEMU ([`qemu`], its log read through [`firmware_log`]).

pub mod bench;
pub mod board;
pub mod cluster;
pub mod config;
pub mod console;
pub mod controller;
pub mod demo;
pub mod detect;
pub mod disk;
mod error;
pub mod failover;
pub mod firmware_log;
pub mod keeper;
pub mod leftovers;
pub mod netlink;
pub mod netns;
pub mod options;
pub mod prefix;
pub mod probe;
pub mod procs;
pub mod qemu;
pub mod rack;
pub mod realtime;
pub mod scenario;
pub mod serial;
pub mod server;
pub mod service;
pub mod signals;
pub mod soak;
pub mod stats;
pub mod timeline;
pub mod tools;
pub mod topology;
pub mod verdict;
pub mod writer;

pub use cluster::{Rig, RunRecord};
pub use error::RigError;
pub use options::{ControllerKind, Options};
