//! The links between the servers and the controller: a message goes out
//! on every link of its node, is lost, delayed, duplicated or corrupted as
//! the faults say, and is decoded and heard at the other end.

use std::ops::ControlFlow;

use warden_core::controller::LinkProgress;
use warden_core::wire::{encode, Message, MAX_FRAME};
use warden_core::NodeId;

use super::{Ev, Sim};
use crate::plan::Fault;
use crate::trace::Entry;

/// What a link carries: a decoded message, or the bytes of a frame when the
/// plan sends bytes.
#[derive(Debug, Clone)]
pub(super) enum Payload {
    Message(Message),
    Bytes(Vec<u8>),
}

impl Sim {
    pub(super) fn transmit(&mut self, n: usize, up: bool, message: Message) {
        let links = self.servers[n].links.len();
        for l in 0..links {
            if !up && self.servers[n].links[l].is_stalled(self.now) {
                // The controller's driver of this link is stalled: the
                // write fails, and the driver says so again.
                self.tell_link(self.link_index(n, l), LinkProgress::Stalled);
                continue;
            }
            if !self.servers[n].links[l].is_up(self.now)
                || (self.fault_on(Fault::Loss) && self.rng.chance(self.sc.loss))
            {
                continue;
            }
            let mut at = self.now + self.rng.range(self.sc.latency.0, self.sc.latency.1);
            if self.fault_on(Fault::Delay) && self.rng.chance(0.05) {
                at += self.rng.range(0, 3 * self.sc.timing.keepalive.0);
            }
            let dir = usize::from(up);
            if !self.sc.reorder {
                let last = &mut self.servers[n].links[l].last_delivery[dir];
                at = at.max(*last);
                *last = at;
            }
            let payload = self.payload(message);
            let duplicate = self.fault_on(Fault::Duplicate) && self.rng.chance(self.sc.duplicate);
            let (node, link) = (n as u8, l as u8);
            let ev = if up { Ev::ToController { node, link, payload } } else { Ev::ToAgent { node, link, payload } };
            // The copy comes a millisecond later, scheduled after the original.
            let copy = duplicate.then(|| ev.clone());
            self.schedule_at(at, ev);
            if let Some(copy) = copy {
                self.schedule_at(at + 1, copy);
            }
        }
    }

    fn payload(&mut self, message: Message) -> Payload {
        if !self.sc.bytes {
            return Payload::Message(message);
        }
        let mut buf = [0u8; MAX_FRAME];
        let Ok(len) = encode(&message, &self.auth, &mut buf) else {
            self.violate(format!("a message could not be encoded: {message:?}"));
            return Payload::Bytes(Vec::new());
        };
        let mut bytes = buf[..len].to_vec();
        if self.fault_on(Fault::Corrupt) && self.rng.chance(self.sc.corrupt) {
            let i = self.rng.index(bytes.len());
            bytes[i] ^= 1 << self.rng.range(0, 7);
        }
        Payload::Bytes(bytes)
    }

    /// The frames the decoder at the receiving end of link `l` of node `n`
    /// finds once `bytes` reach it.
    fn decode(&mut self, n: usize, l: usize, up: bool, bytes: &[u8]) -> Vec<Message> {
        let mut out = Vec::new();
        if let Some(link) = self.servers[n].links.get_mut(l) {
            let decoder = if up { &mut link.up } else { &mut link.down };
            decoder.feed(bytes, &self.auth, |r| {
                if let Ok(m) = r {
                    out.push(m);
                }
            });
        }
        out
    }

    pub(super) fn deliver_up(&mut self, n: usize, l: usize, payload: Payload) {
        if self.controller.is_none() || !self.servers[n].links[l].is_up(self.now) {
            return;
        }
        match payload {
            Payload::Message(m) => {
                let _ = self.controller_hears(n, m);
            }
            Payload::Bytes(bytes) => {
                for m in self.decode(n, l, true, &bytes) {
                    if self.controller_hears(n, m).is_break() {
                        return;
                    }
                }
            }
        }
    }

    /// The controller takes in a message from node `n`; breaks once that
    /// broke rule 3 (the rest of the payload is not delivered).
    fn controller_hears(&mut self, n: usize, m: Message) -> ControlFlow<()> {
        if self.options.wire {
            self.trace.push(self.now, Entry::Message(NodeId(n as u8), true, m.body));
        }
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_message(now, NodeId(n as u8), m);
        }
        self.drain_controller();
        // Rule 3: a fenced node that talks (a message the session
        // accepted) has power; it must be, or recently have been,
        // commanded off.
        let window = self.sc.timing.fence_timeout.0 + 1;
        let exposed = self.store[n]
            && self.servers[n].powered()
            && self.last_off_command[n].is_none_or(|t| self.now > t + window);
        // Asked only then: the view is not free.
        let accepted = || {
            self.controller.as_ref().and_then(|c| c.node(NodeId(n as u8))).is_some_and(|v| v.last_heard == Some(now))
        };
        if exposed && accepted() {
            self.violate(format!("node{n} is fenced but talks, and its relay is not commanded off (rule 3)"));
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    pub(super) fn deliver_down(&mut self, n: usize, l: usize, payload: Payload) {
        let s = &self.servers[n];
        if !s.powered() || s.hung || s.agent.is_none() || !s.links[l].is_up(self.now) {
            return;
        }
        match payload {
            Payload::Message(m) => self.agent_hears(n, m),
            Payload::Bytes(bytes) => {
                for m in self.decode(n, l, false, &bytes) {
                    self.agent_hears(n, m);
                }
            }
        }
    }

    /// The agent of node `n` takes in a message.
    fn agent_hears(&mut self, n: usize, m: Message) {
        if self.options.wire {
            self.trace.push(self.now, Entry::Message(NodeId(n as u8), false, m.body));
        }
        let now = self.instant();
        if let Some(agent) = self.servers[n].agent.as_mut() {
            agent.handle_message(now, m);
        }
        self.drain_agent(n);
    }

    /// The controller's link drivers by the number the core counts them
    /// in (node by node, link by link), and whether each is stalled.
    pub(super) fn link_drivers(&self) -> impl Iterator<Item = (usize, bool)> + '_ {
        let now = self.now;
        self.servers.iter().flat_map(move |s| s.links.iter().map(move |l| l.is_stalled(now))).enumerate()
    }

    pub(super) fn link_index(&self, n: usize, l: usize) -> usize {
        n * usize::from(self.sc.links) + l
    }

    /// The controller's driver of link `l` of node `n` moves again, and
    /// the controller is told.
    pub(super) fn unstall(&mut self, n: usize, l: usize) {
        if let Some(link) = self.servers[n].links.get_mut(l) {
            link.stalled_until = 0;
        }
        self.tell_link(self.link_index(n, l), LinkProgress::Moved);
    }

    pub(super) fn tell_link(&mut self, link: usize, progress: LinkProgress) {
        let now = self.instant();
        if let Some(c) = self.controller.as_mut() {
            c.handle_link(now, link, progress);
        }
    }
}
