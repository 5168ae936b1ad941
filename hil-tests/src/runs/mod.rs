//! What a user runs: the fault scenarios ([`scenario`], the moves without a
//! dead server and the several-group ones in [`moves`]), failover timings
//! ([`mod@bench`]), random faults on fresh clusters ([`campaign`]), Pacemaker fencing through the controller ([`pacemaker`]), unwanted failovers over time ([`soak`]) and a failover
//! told step by step ([`demo`]), each following failovers the same way
//! ([`failover`]); the whole rig they build and take down ([`cluster`]),
//! its [`options`], and the files a run hands to Warden ([`config`]).

pub mod bench;
pub mod campaign;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod failover;
pub mod moves;
pub mod options;
pub mod pacemaker;
pub mod scenario;
pub mod soak;
