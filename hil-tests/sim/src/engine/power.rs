//! Power: the controller's relay commands (checked against the fence
//! records and operator unfences), supplies, and the sense inputs that
//! report power back to the controller.

use warden_core::NodeId;

use super::{Ev, Sim};
use crate::plan::Fault;
use crate::trace::Entry;

impl Sim {
    pub(super) fn power_command(&mut self, n: usize, on: bool) {
        if n >= self.servers.len() {
            self.violate(format!("relay command for node{n}, which is not in the cluster"));
            return;
        }
        let fenced = self.store[n];
        if on && fenced {
            self.violate(format!("relay of node{n} switched ON while its fence record says fenced (rule 3)"));
        }
        if on && !self.unfence_asked[n] {
            self.violate(format!("relay of node{n} switched ON without an operator unfence (rule 3/4)"));
        }
        if !on && !fenced {
            self.violate(format!("relay of node{n} switched OFF before its fence record was durable (rule 3)"));
        }
        if on {
            self.unfence_asked[n] = false;
        } else {
            self.last_off_command[n] = Some(self.now);
        }
        let ignored = self.fault_on(Fault::RelayIgnore) && self.rng.chance(self.sc.relay_ignore);
        self.trace.push(self.now, Entry::Power(NodeId(n as u8), on, ignored));
        if !ignored {
            self.set_relay(n, on);
        }
    }

    pub(super) fn set_relay(&mut self, n: usize, on: bool) {
        let was = self.servers[n].powered();
        self.servers[n].relay = on;
        self.power_changed(n, was);
    }

    pub(super) fn set_supply(&mut self, n: usize, on: bool) {
        let was = self.servers[n].powered();
        self.servers[n].supply = on;
        self.power_changed(n, was);
    }

    fn power_changed(&mut self, n: usize, was: bool) {
        let now_on = self.servers[n].powered();
        if was == now_on {
            return;
        }
        self.trace.push(self.now, Entry::Powered(NodeId(n as u8), now_on));
        if now_on {
            let epoch = self.servers[n].power_epoch;
            self.schedule(self.sc.boot_delay, Ev::AgentStart { node: n as u8, power_epoch: epoch });
        } else {
            self.servers[n].lose_power();
        }
        self.schedule(self.sc.sense_latency, Ev::Sense { node: n as u8 });
    }

    pub(super) fn sense(&mut self, n: usize) {
        let s = &mut self.servers[n];
        if self.now < s.sense_stuck_until {
            return;
        }
        let powered = s.powered();
        if s.sense == powered {
            return;
        }
        s.sense = powered;
        self.trace.push(self.now, Entry::Sense(NodeId(n as u8), powered));
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_sense(now, NodeId(n as u8), powered);
        }
        self.drain_controller();
    }
}
