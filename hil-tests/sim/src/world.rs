//! The simulated servers: power, the agent process, and what is really
//! active on each (the truth the safety checks look at).

use warden_agent_proto::{Action, Agent, Step, StepResult};
use warden_core::wire::Decoder;
use warden_core::{GroupId, GroupSet};

/// One link between a server and the controller.
#[derive(Debug, Clone)]
pub(super) struct Link {
    /// Cut until this time (ms); 0: not cut.
    pub(super) cut_until: u64,
    /// The controller's driver of this link is stalled until this time
    /// (ms): what it writes goes nowhere. 0: not stalled.
    pub(super) stalled_until: u64,
    /// Latest delivery time scheduled per direction (0: down, 1: up), so an
    /// order-keeping link never overtakes itself.
    pub(super) last_delivery: [u64; 2],
    /// The agent's decoder of bytes coming down this link.
    pub(super) down: Decoder,
    /// The controller's decoder of bytes coming up this link.
    pub(super) up: Decoder,
}

impl Link {
    pub(super) fn new() -> Self {
        Self { cut_until: 0, stalled_until: 0, last_delivery: [0; 2], down: Decoder::new(), up: Decoder::new() }
    }

    /// Whether the link carries frames at `now`.
    pub(super) fn is_up(&self, now: u64) -> bool {
        now >= self.cut_until
    }

    /// Whether the controller's driver of it is stalled at `now`.
    pub(super) fn is_stalled(&self, now: u64) -> bool {
        now < self.stalled_until
    }
}

/// A step the world is carrying out on a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pending {
    /// The step.
    pub(super) step: Step,
    /// It will never finish (a stuck release).
    pub(super) stuck: bool,
}

/// One server.
#[derive(Debug, Clone)]
pub(super) struct Server {
    /// The controller's relay contact (latching).
    pub(super) relay: bool,
    /// The server's own supply works.
    pub(super) supply: bool,
    /// What the relay's sense input reads.
    pub(super) sense: bool,
    /// The sense input does not follow the relay until this time.
    pub(super) sense_stuck_until: u64,
    /// Frozen: no messages, no timers, resources stay as they are.
    pub(super) hung: bool,
    /// The agent process, while it runs.
    pub(super) agent: Option<Agent>,
    /// Bumped at every power cycle: steps of an older power epoch vanish.
    pub(super) power_epoch: u32,
    /// Bumped at every agent start: results for an older agent are dropped.
    pub(super) agent_epoch: u32,
    /// Per group, per resource: really active.
    active: Vec<Vec<bool>>,
    /// Per group: the step under way.
    pending: Vec<Option<Pending>>,
    /// The groups of which a resource is active or a start is under way,
    /// kept with `active` and `pending` (see [`Self::holds`]), so that the
    /// exclusivity check after every event is a few bit operations. (A
    /// cluster has at most `MAX_GROUPS` groups: the controller refuses more.)
    holding: GroupSet,
    /// Step results that came in while the server was hung.
    pub(super) deferred: Vec<(Step, StepResult)>,
    /// Its ping nodes are unreachable until this time.
    pub(super) ping_lost_until: u64,
    /// Links to the controller.
    pub(super) links: Vec<Link>,
}

impl Server {
    pub(super) fn new(shape: &[u8], links: u8) -> Self {
        Self {
            relay: true,
            supply: true,
            sense: true,
            sense_stuck_until: 0,
            hung: false,
            agent: None,
            power_epoch: 0,
            agent_epoch: 0,
            active: shape.iter().map(|&r| vec![false; usize::from(r)]).collect(),
            pending: vec![None; shape.len()],
            holding: GroupSet::EMPTY,
            deferred: Vec::new(),
            ping_lost_until: 0,
            links: (0..links).map(|_| Link::new()).collect(),
        }
    }

    /// Whether it has power.
    pub(super) fn powered(&self) -> bool {
        self.relay && self.supply
    }

    /// Whether anything of group `g` may be active here: a resource is, or
    /// a start is under way. Only powered servers hold anything.
    pub(super) fn holds(&self, g: GroupId) -> bool {
        self.held().contains(g)
    }

    /// Every group [held](Self::holds) here, at once.
    pub(super) fn held(&self) -> GroupSet {
        if self.powered() {
            self.holding
        } else {
            GroupSet::EMPTY
        }
    }

    /// Works out again whether group `g` is held, after a change to it.
    fn note_change(&mut self, g: usize) {
        let Ok(id) = u8::try_from(g).map(GroupId) else { return };
        let held = self.active.get(g).is_some_and(|r| r.iter().any(|a| *a))
            || self.pending.get(g).is_some_and(|p| p.is_some_and(|p| p.step.action == Action::Start));
        if held {
            self.holding.insert(id);
        } else {
            self.holding.remove(id);
        }
    }

    /// Number of groups.
    pub(super) fn groups(&self) -> usize {
        self.active.len()
    }

    /// Number of resources of group `g`.
    pub(super) fn resources(&self, g: usize) -> usize {
        self.active.get(g).map_or(0, Vec::len)
    }

    /// Whether resource `r` of group `g` is active (`None`: no such resource).
    pub(super) fn active(&self, g: usize, r: usize) -> Option<bool> {
        self.active.get(g).and_then(|group| group.get(r)).copied()
    }

    /// Makes resource `r` of group `g` active or not.
    pub(super) fn set_active(&mut self, g: usize, r: usize, on: bool) {
        if let Some(a) = self.active.get_mut(g).and_then(|group| group.get_mut(r)) {
            *a = on;
            self.note_change(g);
        }
    }

    /// The step under way on group `g`.
    pub(super) fn pending(&self, g: usize) -> Option<Pending> {
        self.pending.get(g).copied().flatten()
    }

    /// Sets (or, with `None`, ends) the step under way on group `g`.
    pub(super) fn set_pending(&mut self, g: usize, pending: Option<Pending>) {
        if let Some(slot) = self.pending.get_mut(g) {
            *slot = pending;
            self.note_change(g);
        }
    }

    /// Whether every resource of group `g` is active here and no start or
    /// stop is under way.
    pub(super) fn holds_fully(&self, g: GroupId) -> bool {
        self.powered()
            && self.active.get(g.index()).is_some_and(|r| r.iter().all(|a| *a))
            && self
                .pending
                .get(g.index())
                .is_some_and(|p| p.is_none_or(|p| matches!(p.step.action, Action::Probe | Action::Monitor)))
    }

    /// Power went away: everything on it stops.
    pub(super) fn lose_power(&mut self) {
        for group in &mut self.active {
            group.iter_mut().for_each(|a| *a = false);
        }
        self.pending.iter_mut().for_each(|p| *p = None);
        self.holding = GroupSet::EMPTY;
        self.deferred.clear();
        self.agent = None;
        self.hung = false;
        self.power_epoch = self.power_epoch.wrapping_add(1);
        self.agent_epoch = self.agent_epoch.wrapping_add(1);
        for link in &mut self.links {
            link.down = Decoder::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_agent_proto::{Action, Step};
    use warden_core::{GroupId, GroupSet};

    use super::{Pending, Server};

    fn pending(action: Action) -> Option<Pending> {
        Some(Pending { step: Step { group: GroupId(1), resource: 0, action }, stuck: false })
    }

    #[test]
    fn held_follows_resources_and_starts_under_way() {
        let mut s = Server::new(&[1, 2], 1);
        assert_eq!(s.held(), GroupSet::EMPTY);
        s.set_pending(1, pending(Action::Start));
        assert!(s.holds(GroupId(1)) && !s.holds(GroupId(0)));
        s.set_active(1, 1, true);
        s.set_pending(1, None);
        assert!(s.holds(GroupId(1)));
        s.set_pending(1, pending(Action::Probe));
        s.set_active(1, 1, false);
        assert!(!s.holds(GroupId(1)), "a probe under way holds nothing");
        s.set_active(0, 0, true);
        assert_eq!(s.held(), GroupSet(0b01));
        s.supply = false;
        assert_eq!(s.held(), GroupSet::EMPTY, "an unpowered server holds nothing");
        s.supply = true;
        s.lose_power();
        assert_eq!(s.held(), GroupSet::EMPTY);
        assert_eq!(s.active(0, 0), Some(false));
    }
}
