//! # warden-bsp
//!
//! The hardware seams of the Warden controller that embedded-hal 1.0 does not
//! have, and their implementations.
//!
//! ## Traits (no_std, always built)
//!
//! | trait | promises | errors |
//! |---|---|---|
//! | [`Clock`] | monotonic [`Instant`](warden_core::Instant), never fails | none |
//! | [`Watchdog`] | resets the board unless fed in time; cannot be stopped | [`WatchdogError`] |
//! | [`PowerSwitch`] | switches a relay channel; reads its sense input | [`PowerError`] |
//! | [`Link`] | non-blocking bytes to and from one node | [`LinkError`] |
//! | [`FenceStore`] | fence records that survive power loss | [`FenceStoreError`] |
//!
//! Relays and sense lines on pins use embedded-hal's `OutputPin` and
//! `InputPin` through [`PinBank`]; byte streams that implement embedded-io
//! become a [`Link`] through [`IoLink`].
//!
//! ## Layers
//!
//! * The traits ([`clock`], [`watchdog`], [`power`], [`link`], [`fence`]) and
//!   the fence record image shared by every [`FenceStore`] ([`fence::image`]).
//! * [`relay`]: the serial relay module (`A0 channel state checksum`): codec,
//!   a [`relay::RelayModule`] host driver, and the [`relay::Board`] emulator.
//! * [`linux`] (feature `linux`): thin newtypes over OS handles (serial
//!   ports, UDP sockets, gpio-cdev lines, `/dev/watchdog`, the fence file).
//!
//! The simulated hardware lives in one place, the simulator's world
//! (`warden-sim`): links with latency and loss, relays with lagging sense,
//! the fence store with failing and slow writes, stalled link drivers.
//!
//! ## Features
//!
//! `std` (host-side helpers), `linux` (implies `std`).
//! Without features the crate is `#![no_std]` and allocates nothing.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[cfg(all(feature = "linux", not(target_os = "linux")))]
compile_error!("feature `linux` needs a Linux target");

pub mod clock;
pub mod fence;
pub mod link;
pub mod power;
pub mod relay;
pub mod watchdog;

#[cfg(feature = "linux")]
pub mod linux;

pub use clock::Clock;
pub use fence::{FenceStore, FenceStoreError, Fences};
pub use link::{progress_of, IoLink, Link, LinkError};
pub use power::{Channel, PinBank, PowerError, PowerSwitch};
pub use watchdog::{Watchdog, WatchdogError};
