//! From the file as written ([`RawConfig`]) to the checked model
//! ([`ClusterFile`]). The first problem found is returned; nothing is kept from a
//! configuration that has one.
//!
//! The tables are checked in file order: `[cluster]`, `[timing]`,
//! `[agent]`, each node, each group with its resources and monitors, then
//! the rules across tables. Each table has its module; `value` holds the
//! checks of single values several tables share.

mod across;
mod agent;
mod cluster;
mod group;
mod monitor;
mod node;
mod resource;
mod timing;
mod value;

use super::error::Problem;
use super::model::ClusterFile;
use super::raw::RawConfig;

pub use node::{BAUDS, DEFAULT_BAUD, DEFAULT_UDP_PORT};
pub use resource::DEFAULT_SEARCH;

type Checked<T> = Result<T, Problem>;

pub(crate) fn validate(raw: &RawConfig) -> Checked<ClusterFile> {
    let cluster = cluster::check(&raw.cluster)?;
    let timing = timing::check(raw.timing.as_ref())?;
    let agent = agent::check(raw.agent.as_ref())?;
    let nodes = node::check_all(&raw.node)?;
    let groups = group::check_all(&raw.group, &nodes)?;
    across::crc_on_serial_only(&raw.cluster, &cluster, &nodes)?;
    let config = ClusterFile { cluster, timing, agent, nodes, groups };
    across::controller_accepts(&config)?;
    Ok(config)
}
