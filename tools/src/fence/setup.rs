//! From options to what a run needs: the cluster's node names, the key,
//! the controller's address and the node asked for, each checked here so
//! that a wrong one is refused by name before anything is sent.

use std::net::{IpAddr, SocketAddr};

use warden_cluster::{AuthKind, ClusterFile, ConfigError, KeyError};
use warden_core::wire::Auth;
use warden_core::NodeId;

use super::options::Options;
use crate::operator::{resolve, ClientError};

/// The node a run acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its name in the cluster file.
    pub name: String,
    /// Its id: its place in the cluster file.
    pub id: NodeId,
}

/// What a run that talks to the controller needs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The cluster's node names; a node's id is its index.
    pub nodes: Vec<String>,
    /// The frames' key.
    pub auth: Auth,
    /// The controller's operator endpoint.
    pub peer: SocketAddr,
    /// The node asked for: there for an action that
    /// [`needs_plug`](super::Action::needs_plug).
    pub target: Option<Target>,
}

/// Why the options do not make a run. Each names what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// No controller address.
    #[error("`ip` is missing: the controller's operator endpoint address")]
    NoIp,
    /// No node for an action that needs one.
    #[error("no plug: give `plug=NODE` (or `port`, `nodename`, `-n`)")]
    NoPlug,
    /// The node is not in the cluster file.
    #[error("unknown plug `{plug}` (nodes: {})", nodes.join(", "))]
    UnknownPlug {
        /// What was given.
        plug: String,
        /// The cluster file's nodes.
        nodes: Vec<String>,
    },
    /// The cluster file is refused.
    #[error("cluster file {0}")]
    ClusterFile(ConfigError),
    /// The key file is refused.
    #[error("{0}")]
    Key(KeyError),
    /// The cluster speaks CRC frames, which the operator endpoint refuses.
    #[error(
        "cluster file {file}: `auth = \"crc\"`: the controller's operator endpoint takes only authenticated \
         frames (`auth = \"hmac\"` and its key_file)"
    )]
    CrcOnly {
        /// The cluster file.
        file: String,
    },
    /// The address does not resolve.
    #[error("`ip`: {0}")]
    Address(ClientError),
}

/// Checks the options and gathers what a run needs: the controller's
/// address given, the node given when `options.action` needs one, the
/// cluster file and its key (or `key_file`'s) readable, the node one of
/// the cluster's, the address resolved. Nothing is sent.
///
/// # Errors
///
/// [`SetupError`] naming the first thing wrong, in that order.
pub fn prepare(options: &Options) -> Result<Setup, SetupError> {
    let ip = options.ip.as_deref().ok_or(SetupError::NoIp)?;
    // `validate-all` checks the device's options, not a plug: Pacemaker's
    // `stonith_admin --validate` passes a made-up one (`port=node1`).
    let wanted = match options.action {
        a if a.needs_plug() => Some(options.target().ok_or(SetupError::NoPlug)?),
        _ => None,
    };
    let (file, auth) = cluster(options)?;
    let nodes: Vec<String> = file.nodes.iter().map(|n| n.name.clone()).collect();
    let target = match wanted {
        Some(name) => {
            let id = file
                .node_id(name)
                .ok_or_else(|| SetupError::UnknownPlug { plug: name.to_owned(), nodes: nodes.clone() })?;
            Some(Target { name: name.to_owned(), id })
        }
        None => None,
    };
    let peer = resolve(&address(ip, options.ipport)).map_err(SetupError::Address)?;
    Ok(Setup { nodes, auth, peer, target })
}

/// The cluster file and the key: `key_file`'s when given (the cluster
/// file's own key file is then not read at all), else the cluster file's.
fn cluster(options: &Options) -> Result<(ClusterFile, Auth), SetupError> {
    let path = &options.cluster_file;
    let file = match &options.key_file {
        None => warden_cluster::load(path).map_err(SetupError::ClusterFile)?,
        Some(_) => {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|source| {
                SetupError::ClusterFile(ConfigError::Read { origin: origin.clone(), path: path.clone(), source })
            })?;
            warden_cluster::parse(&text, &origin).map_err(SetupError::ClusterFile)?
        }
    };
    if file.cluster.auth == AuthKind::Crc {
        return Err(SetupError::CrcOnly { file: path.display().to_string() });
    }
    let mut keyed = file.cluster.clone();
    if let Some(key_file) = &options.key_file {
        keyed.key_file = Some(key_file.clone());
    }
    let auth = warden_cluster::frame_auth(&keyed).map_err(SetupError::Key)?;
    Ok((file, auth))
}

/// `ip` with `port` when it names none: `10.0.0.254` and 7694 give
/// `10.0.0.254:7694`; `ctl.example:9000`, `[fe80::1]:9000` keep theirs; a
/// bare IPv6 address takes `port`.
#[must_use]
pub fn address(ip: &str, port: u16) -> String {
    if ip.parse::<SocketAddr>().is_ok() {
        return ip.to_owned();
    }
    if let Ok(bare) = ip.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return SocketAddr::new(bare, port).to_string();
    }
    let has_port = ip.rsplit_once(':').is_some_and(|(host, p)| {
        !host.is_empty() && !host.contains(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())
    });
    if has_port {
        ip.to_owned()
    } else {
        format!("{ip}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_in_ip_wins_over_ipport() {
        assert_eq!(address("10.0.0.254", 7694), "10.0.0.254:7694");
        assert_eq!(address("10.0.0.254:9000", 7694), "10.0.0.254:9000");
        assert_eq!(address("ctl.example", 7000), "ctl.example:7000");
        assert_eq!(address("ctl.example:9000", 7000), "ctl.example:9000");
        assert_eq!(address("fe80::1", 7000), "[fe80::1]:7000");
        assert_eq!(address("[fe80::1]", 7000), "[fe80::1]:7000");
        assert_eq!(address("[fe80::1]:9000", 7000), "[fe80::1]:9000");
    }
}
