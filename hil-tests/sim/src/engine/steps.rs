//! The world carrying out the agents' steps: they take time, may fail or
//! never finish, and change what is really active on a server.

use warden_agent_proto::{Action, ErrorKind, Presence, Step, StepResult};
use warden_core::NodeId;

use super::{Ev, Sim};
use crate::plan::Fault;
use crate::trace::Entry;
use crate::world::Pending;

impl Sim {
    pub(super) fn begin_step(&mut self, n: usize, step: Step) {
        let g = step.group.index();
        let stuck = step.action == Action::Stop && self.fault_on(Fault::StuckRelease) && self.rng.chance(0.05);
        let time = self.rng.range(self.sc.step_time.0, self.sc.step_time.1);
        let s = &mut self.servers[n];
        s.set_pending(g, Some(Pending { step, stuck }));
        let power_epoch = s.power_epoch;
        self.trace.push(self.now, Entry::StepBegin(NodeId(n as u8), step));
        if !stuck {
            self.schedule(time, Ev::StepDone { node: n as u8, power_epoch, step });
        }
    }

    pub(super) fn finish_step(&mut self, n: usize, power_epoch: u32, step: Step) {
        let fail = matches!(step.action, Action::Start | Action::Stop)
            && self.fault_on(Fault::StepFailure)
            && self.rng.chance(self.sc.step_failure);
        let half_started = self.rng.chance(0.3);
        let s = &mut self.servers[n];
        if s.power_epoch != power_epoch {
            return;
        }
        let g = step.group.index();
        if s.pending(g).map(|p| p.step) != Some(step) {
            return;
        }
        s.set_pending(g, None);
        let r = usize::from(step.resource);
        let Some(active) = s.active(g, r) else { return };
        let (active, result) = match step.action {
            Action::Start if fail => (half_started, StepResult::Failed(ErrorKind::Failed)),
            Action::Start => (true, StepResult::Done),
            Action::Stop if fail => (active, StepResult::Failed(ErrorKind::Busy)),
            Action::Stop => (false, StepResult::Done),
            Action::Probe => (active, StepResult::Present(if active { Presence::Active } else { Presence::Inactive })),
            Action::Monitor if active => (active, StepResult::Healthy),
            Action::Monitor => (active, StepResult::Unhealthy),
        };
        s.set_active(g, r, active);
        self.trace.push(self.now, Entry::StepEnd(NodeId(n as u8), step, result));
        let now = self.instant();
        let s = &mut self.servers[n];
        if s.agent.is_none() {
            return;
        }
        if s.hung {
            s.deferred.push((step, result));
            return;
        }
        if let Some(agent) = s.agent.as_mut() {
            agent.handle_step(now, step, result);
        }
        self.drain_agent(n);
    }
}
