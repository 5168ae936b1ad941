//! The operator: random requests on the console or relayed by an agent,
//! their answers, and the attentive sweep after the repair.

use warden_core::controller::Life;
use warden_core::wire::Op;
use warden_core::{GroupId, NodeId};

use super::Sim;
use crate::trace::Entry;

impl Sim {
    pub(super) fn random_request(&mut self) {
        let nodes = self.servers.len();
        let n = NodeId(self.rng.index(nodes) as u8);
        let op = match self.rng.range(0, 6) {
            6 => Op::Describe,
            0 | 1 => {
                let g = self.rng.index(self.sc.groups.len());
                let eligible = &self.sc.groups[g].eligible;
                let to = eligible[self.rng.index(eligible.len())];
                Op::Migrate { group: GroupId(g as u8), node: to }
            }
            2 => Op::Standby { node: n },
            3 => Op::Online { node: n },
            4 => Op::Fence { node: n },
            _ => Op::Unfence { node: n },
        };
        // Relayed by a connected agent when there is one, else on the console.
        let via = self.rng.index(nodes);
        let now = self.instant();
        let s = &mut self.servers[via];
        if !s.hung {
            if let Some(agent) = s.agent.as_mut() {
                if let Ok(id) = agent.request(now, op) {
                    self.trace.push(self.now, Entry::Operator(format!("{op:?} (relayed by node{via})")));
                    self.note_unfence(op);
                    self.requests.insert((via as u8, id), op);
                    self.drain_agent(via);
                    return;
                }
            }
        }
        self.console(op);
    }

    fn note_unfence(&mut self, op: Op) {
        if let Op::Unfence { node } = op {
            if let Some(asked) = self.unfence_asked.get_mut(node.index()) {
                *asked = true;
            }
        }
    }

    pub(super) fn console(&mut self, op: Op) {
        self.trace.push(self.now, Entry::Operator(format!("{op:?} on the console")));
        self.note_unfence(op);
        let now = self.instant();
        let Some(c) = self.controller.as_mut() else {
            self.trace.push(self.now, Entry::Operator("no controller to ask".into()));
            return;
        };
        let outcome = c.handle_request(now, op);
        self.drain_controller();
        self.answered(op, outcome);
    }

    pub(super) fn answered(&mut self, op: Op, outcome: Result<(), warden_core::wire::Refusal>) {
        if let (Op::Unfence { node }, Err(_)) = (op, outcome) {
            if let Some(asked) = self.unfence_asked.get_mut(node.index()) {
                *asked = false;
            }
        }
        self.trace.push(self.now, Entry::Answer(op, outcome));
    }

    /// An attentive operator: fenced nodes, and dead ones sensed off, are
    /// admitted back; standby ones are put online.
    pub(super) fn sweep(&mut self) {
        let Some(c) = self.controller.as_ref() else { return };
        let mut ops = Vec::new();
        for n in 0..self.servers.len() {
            let node = NodeId(n as u8);
            if let Some(v) = c.node(node) {
                if v.life == Life::Fenced || (v.life == Life::Dead && v.powered == Some(false)) {
                    ops.push(Op::Unfence { node });
                }
                if v.standby {
                    ops.push(Op::Online { node });
                }
            }
        }
        for op in ops {
            self.console(op);
        }
    }
}
