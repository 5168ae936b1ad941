//! Rules across tables: what two resources may not share, a `crc` cluster
//! whose links are all serial, and the controller's own check of the whole.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::Checked;
use crate::error::Problem;
use crate::model::{format_mac, AuthKind, Cluster, ClusterFile, NodeConfig};
use crate::raw::{RawCluster, S};

/// Things two resources may not share across the cluster.
#[derive(Default)]
pub(super) struct Taken {
    ips: BTreeMap<IpAddr, String>,
    macs: BTreeMap<[u8; 6], String>,
    mountpoints: BTreeMap<PathBuf, String>,
}

impl Taken {
    /// What the resources of `group` claim.
    pub(super) fn for_group<'a>(&'a mut self, group: &'a str) -> Claims<'a> {
        Claims { taken: self, group }
    }
}

/// What the resources of one group claim in [`Taken`].
pub(super) struct Claims<'a> {
    taken: &'a mut Taken,
    group: &'a str,
}

impl Claims<'_> {
    pub(super) fn ip(&mut self, ip: IpAddr, span: Range<usize>) -> Checked<()> {
        match self.taken.ips.insert(ip, self.group.to_owned()) {
            Some(other) => Err(Problem::at(span, format!("address {ip} is already in group `{other}`"))),
            None => Ok(()),
        }
    }

    pub(super) fn mac(&mut self, mac: [u8; 6], span: Range<usize>) -> Checked<()> {
        match self.taken.macs.insert(mac, self.group.to_owned()) {
            Some(other) => Err(Problem::at(span, format!("MAC {} is already in group `{other}`", format_mac(mac)))),
            None => Ok(()),
        }
    }

    pub(super) fn mountpoint(&mut self, mountpoint: &Path, span: Range<usize>) -> Checked<()> {
        match self.taken.mountpoints.insert(mountpoint.to_owned(), self.group.to_owned()) {
            Some(other) => {
                Err(Problem::at(span, format!("mount point {} is already in group `{other}`", mountpoint.display())))
            }
            None => Ok(()),
        }
    }
}

/// `auth = "crc"` only where every node's link is a serial cable.
pub(super) fn crc_on_serial_only(raw: &S<RawCluster>, cluster: &Cluster, nodes: &[NodeConfig]) -> Checked<()> {
    if cluster.auth == AuthKind::Crc {
        if let Some(n) = nodes.iter().find(|n| n.udp.is_some()) {
            let span = raw.get_ref().auth.as_ref().map_or_else(|| raw.span(), S::span);
            return Err(Problem::at(
                span,
                format!("`crc` is refused because node `{}` has a UDP link: crc only suits a point-to-point serial cable; use `hmac`", n.name),
            ));
        }
    }
    Ok(())
}

/// The controller's own check: it cannot fail after the checks above, but
/// the controller must never be handed something it would refuse.
pub(super) fn controller_accepts(config: &ClusterFile) -> Checked<()> {
    config.cluster_config().validate().map_err(|e| Problem::at(0..0, format!("refused by the controller: {e}")))
}
