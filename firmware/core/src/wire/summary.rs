//! The controller's view of the whole cluster, packed to fit one frame, sent
//! to an agent that asks for it (`Op::Describe`, for `wardenctl status`).

use serde::{Deserialize, Serialize};

use crate::controller::Life;
use crate::ids::{GroupId, GroupSet, NodeId, MAX_GROUPS, MAX_NODES};
use crate::time::Duration;

/// "Nowhere" in a `placed` nibble.
const NOWHERE: u8 = 0xF;
/// Saturated `heard` value: 25.5 s or more, or never.
const HEARD_LONG_AGO: u8 = u8::MAX;

/// One node as the summary tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeSummary {
    /// Its life.
    pub life: Life,
    /// In operator standby.
    pub standby: bool,
    /// Sensed power (`None`: unknown).
    pub powered: Option<bool>,
    /// Its fence record says fenced.
    pub fence_record: bool,
    /// Time since its last valid message (`None`: 25.5 s or more, or never).
    pub heard_ago: Option<Duration>,
}

/// The cluster at a glance, packed (see the field docs for the layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Summary {
    /// The `Request` id it answers.
    pub id: u32,
    /// Seconds since the controller booted (saturating).
    pub uptime_s: u32,
    /// Nodes in the cluster (ids `0..nodes`).
    pub nodes: u8,
    /// Groups in the cluster (ids `0..groups`).
    pub groups: u8,
    /// Per node: bits 0-2 life (Booting, Up, Late, Dead, Fencing, Fenced),
    /// bit 3 standby, bits 4-5 power (0 unknown, 1 off, 2 on), bit 6 fence record.
    pub node_state: [u8; MAX_NODES],
    /// Per node: time since its last valid message in 100 ms, 255 for
    /// 25.5 s or more, or never.
    pub heard: [u8; MAX_NODES],
    /// Per group, the node whose `want` holds it: two groups a byte, the
    /// lower id in the low nibble; 0xF for nowhere.
    pub placed: [u8; MAX_GROUPS / 2],
    /// Groups released and not placed yet.
    pub moving: GroupSet,
}

const LIVES: [Life; 6] = [Life::Booting, Life::Up, Life::Late, Life::Dead, Life::Fencing, Life::Fenced];

impl Summary {
    /// An empty summary answering request `id`.
    #[must_use]
    pub const fn new(id: u32, uptime_s: u32, nodes: u8, groups: u8) -> Self {
        Self {
            id,
            uptime_s,
            nodes,
            groups,
            node_state: [0; MAX_NODES],
            heard: [HEARD_LONG_AGO; MAX_NODES],
            placed: [0xFF; MAX_GROUPS / 2],
            moving: GroupSet::EMPTY,
        }
    }

    /// Packs one node's state.
    pub fn set_node(&mut self, node: NodeId, s: NodeSummary) {
        let life = LIVES.iter().position(|l| *l == s.life).unwrap_or(0) as u8;
        let power = match s.powered {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        let packed = life | (u8::from(s.standby) << 3) | (power << 4) | (u8::from(s.fence_record) << 6);
        let heard = s.heard_ago.map_or(HEARD_LONG_AGO, |d| u8::try_from(d.0 / 100).unwrap_or(HEARD_LONG_AGO));
        if let (Some(state), Some(h)) = (self.node_state.get_mut(node.index()), self.heard.get_mut(node.index())) {
            *state = packed;
            *h = heard;
        }
    }

    /// One node's state, or `None` for a node outside the cluster or a
    /// malformed entry.
    #[must_use]
    pub fn node(&self, node: NodeId) -> Option<NodeSummary> {
        if node.0 >= self.nodes {
            return None;
        }
        let packed = *self.node_state.get(node.index())?;
        let life = *LIVES.get(usize::from(packed & 0b111))?;
        let powered = match (packed >> 4) & 0b11 {
            0 => None,
            1 => Some(false),
            2 => Some(true),
            _ => return None,
        };
        let heard = *self.heard.get(node.index())?;
        Some(NodeSummary {
            life,
            standby: packed & (1 << 3) != 0,
            powered,
            fence_record: packed & (1 << 6) != 0,
            heard_ago: (heard != HEARD_LONG_AGO).then(|| Duration(u64::from(heard) * 100)),
        })
    }

    /// Records where group `g` is placed.
    pub fn set_placed(&mut self, g: GroupId, node: Option<NodeId>) {
        let nibble = node.map_or(NOWHERE, |n| n.0 & 0x7);
        if let Some(byte) = self.placed.get_mut(g.index() / 2) {
            *byte = if g.0 & 1 == 0 { (*byte & 0xF0) | nibble } else { (*byte & 0x0F) | (nibble << 4) };
        }
    }

    /// Where group `g` is placed (`None`: nowhere, or not in the cluster).
    #[must_use]
    pub fn placed_on(&self, g: GroupId) -> Option<NodeId> {
        if g.0 >= self.groups {
            return None;
        }
        let byte = *self.placed.get(g.index() / 2)?;
        let nibble = if g.0 & 1 == 0 { byte & 0x0F } else { byte >> 4 };
        (nibble != NOWHERE && nibble < self.nodes).then_some(NodeId(nibble))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_and_placements_round_trip() {
        let mut s = Summary::new(7, 99, 3, 3);
        let n1 = NodeSummary {
            life: Life::Fenced,
            standby: true,
            powered: Some(false),
            fence_record: true,
            heard_ago: Some(Duration(1200)),
        };
        s.set_node(NodeId(1), n1);
        s.set_placed(GroupId(1), Some(NodeId(2)));
        s.set_placed(GroupId(2), None);
        s.set_placed(GroupId(0), Some(NodeId(0)));
        assert_eq!(s.node(NodeId(1)), Some(n1));
        assert_eq!(s.node(NodeId(3)), None, "outside the cluster");
        assert_eq!(s.placed_on(GroupId(0)), Some(NodeId(0)));
        assert_eq!(s.placed_on(GroupId(1)), Some(NodeId(2)));
        assert_eq!(s.placed_on(GroupId(2)), None);
        assert_eq!(s.placed_on(GroupId(3)), None, "outside the cluster");
        let mut long = n1;
        long.heard_ago = Some(Duration(60_000));
        s.set_node(NodeId(2), long);
        assert_eq!(s.node(NodeId(2)).and_then(|n| n.heard_ago), None);
    }

    #[test]
    fn malformed_entries_are_refused() {
        let mut s = Summary::new(1, 0, 2, 1);
        s.node_state[0] = 0b111; // no such life
        s.node_state[1] = 0b11 << 4; // no such power state
        assert_eq!(s.node(NodeId(0)), None);
        assert_eq!(s.node(NodeId(1)), None);
        s.placed[0] = 0x05; // node 5 in a 2-node cluster
        assert_eq!(s.placed_on(GroupId(0)), None);
    }
}
