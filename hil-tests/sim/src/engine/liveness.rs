//! Liveness: after the repair every group must be held again, fully, on
//! exactly one powered server, the one the controller placed it on.

use warden_core::{GroupId, NodeId};

use super::Sim;

impl Sim {
    pub(super) fn check_liveness(&mut self) {
        if self.all_held() {
            let since = *self.live_since.get_or_insert(self.now);
            if self.now >= since + 3 * self.sc.timing.keepalive.0 {
                self.recovered_after = Some(since.saturating_sub(self.sc.fault_until));
                self.done = true;
            }
        } else {
            self.live_since = None;
        }
    }

    /// Every group fully active on exactly one powered server, the one the
    /// controller placed it on.
    fn all_held(&self) -> bool {
        let Some(c) = self.controller.as_ref() else { return false };
        (0..self.sc.groups.len()).all(|g| {
            let group = GroupId(g as u8);
            let placed = c.group(group).and_then(|v| v.placed_on);
            let mut holders = (0..self.servers.len()).filter(|n| self.servers[*n].holds(group));
            match (holders.next(), holders.next(), placed) {
                (Some(h), None, Some(p)) => h == p.index() && self.servers[h].holds_fully(group),
                _ => false,
            }
        })
    }

    pub(super) fn unheld_groups(&self) -> String {
        let mut parts = Vec::new();
        for g in 0..self.sc.groups.len() {
            let group = GroupId(g as u8);
            let holders: Vec<String> = (0..self.servers.len())
                .filter(|n| self.servers[*n].holds(group))
                .map(|n| format!("node{n}{}", if self.servers[n].holds_fully(group) { "" } else { " (partly)" }))
                .collect();
            let placed = self.controller.as_ref().and_then(|c| c.group(group)).and_then(|v| v.placed_on);
            parts.push(format!(
                "{group}: placed on {}, held by [{}]",
                placed.map_or("nothing".to_string(), |p| p.to_string()),
                holders.join(", ")
            ));
        }
        let nodes: Vec<String> = (0..self.servers.len())
            .map(|n| {
                let life = self.controller.as_ref().and_then(|c| c.node(NodeId(n as u8))).map(|v| v.life);
                format!("node{n}: {life:?}, powered {}", self.servers[n].powered())
            })
            .collect();
        format!(
            "not every group held {}ms after the faults stopped: {}; {}",
            self.sc.liveness_bound(),
            parts.join("; "),
            nodes.join("; ")
        )
    }
}
