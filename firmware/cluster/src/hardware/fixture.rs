//! A two-node, one-group cluster file for unit tests: `alpha` (relay 0)
//! and `beta` (relay 2), group `web` homed on alpha.

pub(crate) const CLUSTER: &str = r#"
[cluster]
name = "test"
key_file = "cluster.key"

[[node]]
name = "alpha"
relay = 0
[node.serial]
device = "/dev/ttyS0"

[[node]]
name = "beta"
relay = 2
[node.serial]
device = "/dev/ttyS0"

[[group]]
name = "web"
nodes = ["alpha", "beta"]
[[group.resource]]
kind = "service"
command = ["/bin/true"]
"#;

/// The fixture, parsed.
pub(crate) fn cluster() -> warden_cluster::ClusterFile {
    warden_cluster::parse(CLUSTER, "cluster.toml").unwrap_or_else(|e| unreachable!("fixture: {e}"))
}
