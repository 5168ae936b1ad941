//! Faults: when they may strike, injecting one, and the repair when the
//! fault phase ends.

use warden_core::controller::LinkProgress;
use warden_core::{GroupId, NodeId};

use super::{Ev, Sim};
use crate::plan::Fault;
use crate::trace::Entry;

impl Sim {
    pub(super) fn in_fault_phase(&self) -> bool {
        self.now < self.sc.fault_until
    }

    pub(super) fn fault_on(&self, f: Fault) -> bool {
        self.in_fault_phase() && self.sc.faults.has(f)
    }

    pub(super) fn fault_gap(&mut self) -> u64 {
        let gap = self.sc.fault_gap;
        self.rng.range(gap / 2, gap + gap / 2)
    }

    pub(super) fn inject(&mut self) {
        let kinds: Vec<Fault> = self
            .sc
            .faults
            .iter()
            .filter(|f| !matches!(f, Fault::Loss | Fault::Delay | Fault::Duplicate | Fault::Corrupt))
            .collect();
        if kinds.is_empty() {
            return;
        }
        let kind = kinds[self.rng.index(kinds.len())];
        let n = self.rng.index(self.servers.len());
        let node = NodeId(n as u8);
        let deadtime = self.sc.timing.deadtime.0;
        match kind {
            Fault::Cut => {
                let l = self.rng.index(self.servers[n].links.len());
                let d = self.rng.range(500, 3 * deadtime);
                self.servers[n].links[l].cut_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("link {l} of {node} cut for {d}ms")));
                self.schedule(d, Ev::HealCut { node: n as u8, link: l as u8 });
            }
            Fault::PowerLoss => {
                if self.servers[n].supply {
                    let d = self.rng.range(1_000, 20_000);
                    self.trace.push(self.now, Entry::Fault(format!("{node}'s supply fails for {d}ms")));
                    self.set_supply(n, false);
                    self.schedule(d, Ev::HealSupply { node: n as u8 });
                }
            }
            Fault::Hang => {
                let s = &mut self.servers[n];
                if s.powered() && s.agent.is_some() && !s.hung {
                    s.hung = true;
                    let d = self.rng.range(deadtime / 2, 4 * deadtime);
                    self.trace.push(self.now, Entry::Fault(format!("{node} hangs for {d}ms (keeps its resources)")));
                    self.schedule(d, Ev::HealHang { node: n as u8 });
                }
            }
            Fault::Crash => {
                let s = &mut self.servers[n];
                if s.agent.is_some() && !s.hung {
                    s.agent = None;
                    s.deferred.clear();
                    let epoch = s.power_epoch;
                    let d = self.rng.range(200, 3_000);
                    self.trace.push(self.now, Entry::Fault(format!("{node}'s agent crashes; restarted in {d}ms")));
                    self.schedule(d, Ev::AgentStart { node: n as u8, power_epoch: epoch });
                }
            }
            Fault::ServiceDeath => {
                let s = &mut self.servers[n];
                let held: Vec<usize> = (0..s.groups()).filter(|g| s.holds_fully(GroupId(*g as u8))).collect();
                if !held.is_empty() {
                    let g = held[self.rng.index(held.len())];
                    let r = self.rng.index(s.resources(g));
                    s.set_active(g, r, false);
                    self.trace.push(self.now, Entry::Fault(format!("{node}: group{g} resource {r} dies")));
                }
            }
            Fault::SenseStuck => {
                let d = self.rng.range(1_000, 10_000);
                self.servers[n].sense_stuck_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("{node}'s sense input stuck for {d}ms")));
                self.schedule(d, Ev::HealSense { node: n as u8 });
            }
            Fault::ControllerReset => {
                if self.controller.take().is_some() {
                    let d = self.rng.range(100, 5_000);
                    self.trace.push(self.now, Entry::Fault(format!("controller resets; boots in {d}ms")));
                    if self.sc.relays_close_on_reset {
                        for m in 0..self.servers.len() {
                            self.set_relay(m, true);
                        }
                    }
                    self.schedule(d, Ev::ControllerBoot);
                }
            }
            Fault::PingLoss => {
                let d = self.rng.range(2_000, 30_000);
                self.servers[n].ping_lost_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("{node}'s ping nodes unreachable for {d}ms")));
                self.feed_net_score(n);
                self.schedule(d, Ev::HealPing { node: n as u8 });
            }
            Fault::Operator => self.random_request(),
            Fault::StoreFailure => {
                let d = self.rng.range(500, 3 * deadtime);
                self.store_fails_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("the fence store fails every write for {d}ms")));
            }
            Fault::SlowStore => {
                let d = self.rng.range(1_000, 10_000);
                self.store_slow_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("the fence store is slow for {d}ms")));
            }
            Fault::LinkStall => {
                let l = self.rng.index(self.servers[n].links.len());
                let d = self.rng.range(500, 3 * deadtime);
                self.servers[n].links[l].stalled_until = self.now + d;
                self.trace.push(self.now, Entry::Fault(format!("the driver of link {l} of {node} stalls for {d}ms")));
                self.tell_link(self.link_index(n, l), LinkProgress::Stalled);
                self.schedule(d, Ev::HealStall { node: n as u8, link: l as u8 });
            }
            Fault::Loss | Fault::Delay | Fault::Duplicate | Fault::Corrupt | Fault::StepFailure => {}
            Fault::StuckRelease | Fault::RelayIgnore => {}
        }
    }

    pub(super) fn unhang(&mut self, n: usize) {
        let s = &mut self.servers[n];
        if !s.hung {
            return;
        }
        s.hung = false;
        self.trace.push(self.now, Entry::Fault(format!("node{n} resumes")));
        let now = self.instant();
        let deferred = std::mem::take(&mut self.servers[n].deferred);
        if let Some(agent) = self.servers[n].agent.as_mut() {
            for (step, result) in deferred {
                agent.handle_step(now, step, result);
            }
            agent.handle_timeout(now);
        }
        self.drain_agent(n);
        self.feed_net_score(n);
    }

    /// The faults stop: links heal, supplies and sense inputs come back,
    /// hung servers resume, and the operator admits fenced nodes back.
    pub(super) fn repair(&mut self) {
        self.repaired = true;
        self.trace.push(self.now, Entry::Fault("faults stop; everything is repaired".into()));
        self.store_fails_until = 0;
        self.store_slow_until = 0;
        for n in 0..self.servers.len() {
            let mut stalled = Vec::new();
            for (l, link) in self.servers[n].links.iter_mut().enumerate() {
                link.cut_until = 0;
                if link.stalled_until != 0 {
                    stalled.push(l);
                }
            }
            for l in stalled {
                self.unstall(n, l);
            }
            self.servers[n].ping_lost_until = 0;
            self.servers[n].sense_stuck_until = 0;
            self.unhang(n);
            self.set_supply(n, true);
            self.sense(n);
            self.feed_net_score(n);
        }
        self.sweep();
        self.schedule(5_000, Ev::Sweep);
    }
}
