//! The agents: starting one on a powered server, what it is told about its
//! ping nodes, and carrying out its outputs.

use warden_agent_proto::{Agent, AgentOutput};
use warden_core::{Instant, NodeId};

use super::Sim;
use crate::trace::Entry;

impl Sim {
    pub(super) fn start_agent(&mut self, n: usize) {
        let config = self.sc.agent_config(NodeId(n as u8));
        let nonce = self.rng.next_u64();
        match Agent::new(config, self.instant(), nonce) {
            Ok(agent) => {
                let s = &mut self.servers[n];
                s.agent = Some(agent);
                s.agent_epoch = s.agent_epoch.wrapping_add(1);
                for link in &mut s.links {
                    link.down = warden_core::wire::Decoder::new();
                }
                self.trace.push(self.now, Entry::AgentBoot(NodeId(n as u8)));
                let score = self.net_score(n);
                if let Some(agent) = self.servers[n].agent.as_mut() {
                    agent.handle_net_score(Instant(self.now), score);
                }
                self.drain_agent(n);
            }
            Err(e) => self.violate(format!("the simulated agent's configuration was refused: {e}")),
        }
    }

    fn net_score(&self, n: usize) -> u16 {
        if self.now < self.servers[n].ping_lost_until {
            0
        } else {
            self.sc.ping_nodes
        }
    }

    pub(super) fn feed_net_score(&mut self, n: usize) {
        let score = self.net_score(n);
        let now = self.instant();
        let s = &mut self.servers[n];
        if s.hung {
            return;
        }
        if let Some(agent) = s.agent.as_mut() {
            agent.handle_net_score(now, score);
        }
        self.drain_agent(n);
    }

    pub(super) fn drain_agent(&mut self, n: usize) {
        while let Some(out) = self.servers[n].agent.as_mut().and_then(Agent::poll_output) {
            let node = NodeId(n as u8);
            match out {
                AgentOutput::Send(m) => self.transmit(n, true, m),
                AgentOutput::Step(step) => self.begin_step(n, step),
                AgentOutput::Event(e) => self.trace.push(self.now, Entry::Agent(node, e)),
                AgentOutput::Summary(summary) => {
                    self.requests.remove(&(n as u8, summary.id));
                }
                AgentOutput::History(answer) => {
                    self.requests.remove(&(n as u8, answer.id));
                }
                AgentOutput::Counters(counters) => {
                    self.requests.remove(&(n as u8, counters.id));
                }
                AgentOutput::Reply { id, outcome } => {
                    if let Some(op) = self.requests.remove(&(n as u8, id)) {
                        self.answered(op, outcome);
                    }
                }
            }
        }
    }
}
