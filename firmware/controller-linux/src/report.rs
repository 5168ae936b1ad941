//! What the controller tells people: a line per transition on the console,
//! the status table, and the status as JSON for the control socket.

use std::fmt::{self, Write as _};

use serde_json::{json, Value};
use warden_cluster::ClusterFile;
use warden_core::controller::{Controller, Event, Names};
use warden_core::{GroupId, GroupSet, Instant, NodeId};

use crate::links::Links;

/// A node's name (its id if the cluster file has none for it).
#[must_use]
pub fn node_name(cluster: &ClusterFile, node: NodeId) -> String {
    cluster.node(node).map_or_else(|| node.to_string(), |n| n.name.clone())
}

/// A group's name.
#[must_use]
pub fn group_name(cluster: &ClusterFile, group: GroupId) -> String {
    cluster.group(group).map_or_else(|| group.to_string(), |g| g.name.clone())
}

fn nodes_in_mask(cluster: &ClusterFile, mask: u8) -> Vec<String> {
    (0..8u8).filter(|i| mask & (1 << i) != 0).map(|i| node_name(cluster, NodeId(i))).collect()
}

fn group_names(cluster: &ClusterFile, set: GroupSet) -> Vec<String> {
    set.iter().map(|g| group_name(cluster, g)).collect()
}

/// Nodes, groups and links by the names people know them by, for the
/// core's event lines: `node alpha`, `group web`, `/dev/ttyS1`.
pub struct Named<'a> {
    cluster: &'a ClusterFile,
    links: &'a Links,
}

impl<'a> Named<'a> {
    /// Names from the cluster file and the controller's links.
    #[must_use]
    pub fn new(cluster: &'a ClusterFile, links: &'a Links) -> Self {
        Self { cluster, links }
    }

    /// The event's line, in the core's words.
    #[must_use]
    pub fn line(&self, event: &Event) -> String {
        event.display(self).to_string()
    }
}

impl Names for Named<'_> {
    fn node(&self, f: &mut fmt::Formatter<'_>, node: NodeId) -> fmt::Result {
        write!(f, "node {}", node_name(self.cluster, node))
    }

    fn group(&self, f: &mut fmt::Formatter<'_>, group: GroupId) -> fmt::Result {
        write!(f, "group {}", group_name(self.cluster, group))
    }

    fn link(&self, f: &mut fmt::Formatter<'_>, link: usize) -> fmt::Result {
        match self.links.get(link) {
            Some(l) => f.write_str(&l.name()),
            None => write!(f, "link {link}"),
        }
    }
}

/// A node's sensed power in words: `on`, `off`, `unknown`.
pub(crate) const fn power(p: Option<bool>) -> &'static str {
    match p {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

fn ago(now: Instant, at: Option<Instant>) -> Option<u64> {
    at.map(|t| now.saturating_since(t).as_millis())
}

/// The fence history as JSON, in the agent's control socket's shape
/// (`warden_control::FenceHistory`), each start on the wall clock.
#[must_use]
pub fn history_json(controller: &Controller, cluster: &ClusterFile) -> Value {
    let history = controller.history();
    let now = std::time::SystemTime::now();
    let entries: Vec<warden_control::FenceEntry> =
        history.iter().map(|e| warden_control::FenceEntry::from_wire(&e.at(controller.now()), cluster, now)).collect();
    serde_json::to_value(warden_control::FenceHistory { total: history.total(), entries }).unwrap_or(Value::Null)
}

/// The status as JSON.
#[must_use]
pub fn status_json(controller: &Controller, cluster: &ClusterFile, links: &Links, now: Instant) -> Value {
    let nodes: Vec<Value> = (0..cluster.nodes.len())
        .filter_map(|i| controller.node(NodeId(u8::try_from(i).ok()?)))
        .map(|v| {
            let node_links: Vec<Value> = links
                .iter()
                .filter(|l| l.node == v.node)
                .map(|l| {
                    let d = l.decode_stats();
                    let s = l.stats();
                    json!({
                        "link": l.name(),
                        "open": l.is_open(),
                        "stalled": l.is_stalled(),
                        "frames_ok": d.ok,
                        "frames_rejected": d.rejected(),
                        "bytes_in": s.bytes_in,
                        "sent": s.sent,
                        "send_full": s.send_full,
                        "send_failed": s.send_failed,
                        "disconnects": s.disconnects,
                        "last_error": l.last_error(),
                    })
                })
                .collect();
            json!({
                "name": node_name(cluster, v.node),
                "id": v.node.0,
                "life": v.life.name(),
                "standby": v.standby,
                "power": power(v.powered),
                "last_heard_ms_ago": ago(now, v.last_heard),
                "want": group_names(cluster, v.want),
                "holds": group_names(cluster, v.holds),
                "net_score": v.net_score,
                "links": node_links,
            })
        })
        .collect();
    let groups: Vec<Value> = (0..cluster.groups.len())
        .filter_map(|i| controller.group(GroupId(u8::try_from(i).ok()?)))
        .map(|v| {
            json!({
                "name": group_name(cluster, v.group),
                "placed_on": v.placed_on.map(|n| node_name(cluster, n)),
                "held_by": nodes_in_mask(cluster, v.held_by),
                "moving": v.moving,
            })
        })
        .collect();
    let s = controller.stats();
    json!({
        "cluster": cluster.cluster.name,
        "now_ms": now.as_millis(),
        "nodes": nodes,
        "groups": groups,
        "controller": {
            "session_rejects": s.session_rejects,
            "wrong_node": s.wrong_node,
            "unexpected": s.unexpected,
            "alarms_dropped": s.alarms_dropped,
        },
    })
}

/// The status table for the console.
#[must_use]
pub fn status_table(controller: &Controller, cluster: &ClusterFile, links: &Links, now: Instant) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{:<16} {:<8} {:<8} {:>12}  {:<20} LINKS", "NODE", "LIFE", "POWER", "LAST HEARD", "HOLDS");
    for i in 0..cluster.nodes.len() {
        let Some(v) = u8::try_from(i).ok().and_then(|i| controller.node(NodeId(i))) else { continue };
        let heard = ago(now, v.last_heard).map_or_else(|| "never".to_owned(), |ms| format!("{ms}ms ago"));
        let mut state = if v.standby { format!("{}*", v.life.name()) } else { v.life.name().to_owned() };
        state.truncate(8);
        let node_links: Vec<String> = links
            .iter()
            .filter(|l| l.node == v.node)
            .map(|l| {
                let d = l.decode_stats();
                let open = if l.is_open() { "" } else { " CLOSED" };
                format!("{} ok={} bad={} sent={}{open}", l.name(), d.ok, d.rejected(), l.stats().sent)
            })
            .collect();
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:<8} {:>12}  {:<20} {}",
            node_name(cluster, v.node),
            state,
            power(v.powered),
            heard,
            group_names(cluster, v.holds).join(","),
            node_links.join("; ")
        );
    }
    let _ = writeln!(out, "{:<16} {:<16} {:<20} MOVING", "GROUP", "PLACED ON", "HELD BY");
    for i in 0..cluster.groups.len() {
        let Some(v) = u8::try_from(i).ok().and_then(|i| controller.group(GroupId(i))) else { continue };
        let _ = writeln!(
            out,
            "{:<16} {:<16} {:<20} {}",
            group_name(cluster, v.group),
            v.placed_on.map_or_else(|| "-".to_owned(), |n| node_name(cluster, n)),
            nodes_in_mask(cluster, v.held_by).join(","),
            if v.moving { "yes" } else { "no" }
        );
    }
    out
}
