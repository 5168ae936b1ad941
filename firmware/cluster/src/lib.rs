//! The cluster configuration: one TOML file describing nodes, links, the key
//! file, timing, and groups with their resources and monitors. The schema and
//! a complete example are in `docs/configuration.md`.
//!
//! A configuration is checked whole and refused whole: [`parse`] and [`load`]
//! return a [`ClusterFile`] in which every value has been validated, or the
//! **first** problem found as a [`ConfigError`] whose `Display` reads
//! `FILE:LINE: key `path.to.key`: what is wrong`. Problems are looked for in
//! file order within each stage: TOML types and unknown keys first, then
//! `[cluster]`, `[timing]`, `[agent]`, each `[[node]]`, each `[[group]]` with its
//! resources and monitors, then rules across tables.
//!
//! Layers: `raw` (the file as written, with spans) → `validate` (the checks)
//! → [`model`] (the checked types). `locate` turns a span into a line and a
//! key path.

// The test fixture of the hardware file names this crate by its name, so the
// controller's tests can include the same file.
#[cfg(test)]
extern crate self as warden_cluster;

mod duration;
mod error;
mod escape;
pub mod hardware;
mod key;
mod load;
mod locate;
pub mod model;
mod raw;
pub mod scheduling;
mod validate;

pub use duration::format_millis;
pub use error::ConfigError;
pub use escape::{escape, unescape, EscapeError};
pub use key::{frame_auth, open_private, read_key, KeyError, MAX_KEY_LEN};
pub use load::{load, parse};
pub use model::{
    format_mac, AddressConfig, AgentSettings, AuthKind, CheckConfig, Cluster, ClusterFile, DiskConfig, Fsck,
    GroupConfig, MacConfig, MonitorConfig, NodeConfig, NotifySwitchConfig, PingGroup, ResourceConfig, SerialLink,
    Service, ServiceConfig, UdpLink,
};

/// Defaults applied when a key is left out.
pub mod defaults {
    pub use super::validate::{BAUDS, DEFAULT_BAUD, DEFAULT_SEARCH, DEFAULT_UDP_PORT};
}
