//! # warden-core
//!
//! The deciding half of Warden: the wire protocol spoken between the
//! controller board and each server's host agent, and the controller's state
//! machine that decides which server holds which service group.
//!
//! ## Contract
//!
//! * `#![no_std]`, no allocation: every capacity is a constant of this crate
//!   ([`MAX_NODES`], [`MAX_GROUPS`], [`wire::MAX_FRAME`]) and a full buffer is a
//!   typed error, never a panic.
//! * Sans-IO and deterministic: nothing here reads a clock, a socket, a file or
//!   a random source. Time is an [`Instant`] passed in, randomness is a seed
//!   passed in. Inputs go in through `handle_*` methods, outputs come out of
//!   `poll_*` methods, and `poll_timeout` says when to call again.
//! * No panics on any input path: clippy's `unwrap_used`, `expect_used`,
//!   `panic` and `indexing_slicing` are denied in this crate.
//!
//! ## Layers
//!
//! * [`time`]: milliseconds since boot.
//! * [`ids`]: node and group identifiers and the [`GroupSet`] bitset.
//! * [`wire`]: frames (COBS, postcard, HMAC-SHA256/16 or CRC-32C), the
//!   messages, and the session rules (nonces, sequence numbers, replay).
//! * [`controller`]: the controller's state machine and its safety rules.
#![no_std]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(not(test), deny(clippy::todo, clippy::unimplemented))]

#[cfg(feature = "std")]
extern crate std;

pub mod controller;
pub mod ids;
pub mod time;
pub mod wire;

pub use ids::{GroupId, GroupSet, NodeId, MAX_GROUPS, MAX_LINKS, MAX_NODES};
pub use time::{Duration, Instant};
