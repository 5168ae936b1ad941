//! One group's reconciliation: what is known of each resource, and the next
//! step toward the target (start left to right, stop right to left), plus
//! probe sweeps, monitor sweeps and local restarts.

use std::collections::VecDeque;

use warden_core::{Duration, GroupId, Instant};

use super::agent::GroupShape;
use super::event::AgentEvent;
use super::step::Presence;
use super::step::{Action, Step, StepResult};

/// What the agent wants of a group right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Target {
    /// Every resource active (the group is in `want`).
    Up,
    /// Every resource inactive (the group is not in `want`, or failing).
    Down,
    /// Change nothing (no controller word yet, `Listening`, or the
    /// controller is silent and the group is not held).
    Hold,
}

/// What is known of one resource. A resource whose start was issued is
/// `Unknown` until the start is reported done: it may already be active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Known {
    Inactive,
    Active,
    Unknown,
}

impl From<Presence> for Known {
    fn from(p: Presence) -> Self {
        match p {
            Presence::Active => Self::Active,
            Presence::Inactive => Self::Inactive,
            Presence::Unknown => Self::Unknown,
        }
    }
}

/// One group's state on this node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct GroupState {
    id: GroupId,
    /// Per resource, in start order.
    res: Vec<Known>,
    /// Local restarts allowed within the restart window.
    max_restarts: u32,
    /// The index of the group's first monitor, when it has monitors after
    /// its resources.
    first_monitor: Option<u8>,
    /// Every resource has been probed at least once since the agent started.
    pub(super) initialized: bool,
    /// A probe sweep is under way: the next resource to probe.
    probe_at: Option<u8>,
    /// A monitor sweep is under way: the next resource to monitor.
    monitor_at: Option<u8>,
    /// The step outstanding, if any.
    pub(super) step: Option<Step>,
    /// When the outstanding step was asked for.
    step_since: Instant,
    /// The outstanding step has outlived the step timeout (reported once).
    overdue: bool,
    /// A start failed, or local restarts ran out: release it and say so
    /// until the controller takes it out of `want`.
    pub(super) failing: bool,
    /// A stop failed: it cannot be released (the controller fences).
    pub(super) stuck: bool,
    /// The last monitor sweep passed and nothing changed since.
    healthy: bool,
    /// When the next monitor sweep is due.
    next_monitor: Instant,
    /// A local restart: stop resources from this index on, then start again.
    restart_from: Option<u8>,
    /// A local restart is under way (may start even while the controller is silent).
    pub(super) restarting: bool,
    /// Times of recent local restarts, oldest first.
    restarts: VecDeque<Instant>,
}

impl GroupState {
    pub(super) fn new(id: GroupId, shape: &GroupShape, now: Instant) -> Self {
        let GroupShape { resources, monitors, max_restarts } = *shape;
        Self {
            id,
            res: vec![Known::Unknown; usize::from(resources)],
            first_monitor: (monitors > 0 && monitors < resources).then(|| resources - monitors),
            max_restarts,
            // A group without resources on this node has nothing to probe.
            initialized: resources == 0,
            probe_at: (resources > 0).then_some(0),
            monitor_at: None,
            step: None,
            step_since: now,
            overdue: false,
            failing: false,
            stuck: false,
            healthy: false,
            next_monitor: now,
            restart_from: None,
            restarting: false,
            restarts: VecDeque::new(),
        }
    }

    /// Any resource may be active (or the initial probe has not finished).
    pub(super) fn held(&self) -> bool {
        !self.initialized || self.res.iter().any(|r| *r != Known::Inactive)
    }

    fn fully_active(&self) -> bool {
        self.res.iter().all(|r| *r == Known::Active)
    }

    /// A start or stop is outstanding.
    pub(super) fn changing(&self) -> bool {
        self.step.is_some_and(|s| matches!(s.action, Action::Start | Action::Stop))
    }

    /// Passed its last monitor sweep, fully active.
    pub(super) fn healthy(&self) -> bool {
        self.healthy && self.fully_active()
    }

    /// Nothing is left to do toward `target`: the group is there, or cannot
    /// get there (failed or stuck).
    pub(super) fn settled(&self, target: Target) -> bool {
        if !self.initialized || self.changing() || self.probe_at.is_some() {
            return false;
        }
        match target {
            Target::Hold => true,
            Target::Down => self.stuck || !self.held(),
            Target::Up => self.stuck || (self.restart_from.is_none() && self.fully_active()),
        }
    }

    /// Starts a probe sweep (the periodic look at the real system).
    pub(super) fn sweep(&mut self) {
        if self.probe_at.is_none() && !self.res.is_empty() {
            self.probe_at = Some(0);
        }
    }

    /// The controller took the group out of `want`: forget the failure.
    pub(super) fn released_by_controller(&mut self) {
        self.failing = false;
        self.restarting = false;
        self.restart_from = None;
    }

    /// When the outstanding step becomes overdue, if one is outstanding and
    /// not yet overdue.
    pub(super) fn step_deadline(&self, timeout: Duration) -> Option<Instant> {
        (self.step.is_some() && !self.overdue).then(|| self.step_since.saturating_add(timeout))
    }

    /// A step that has not ended within `timeout` (its driver broke its own
    /// timeout contract): a start or stop that hangs means the group can be
    /// neither relied on nor released, so it is reported stuck (and a start
    /// failing too), and the controller fences; a hung probe or monitor
    /// makes the group failing. The step's result is still taken if it
    /// ever comes.
    pub(super) fn check_overdue(&mut self, now: Instant, timeout: Duration, events: &mut Vec<AgentEvent>) {
        let Some(step) = self.step else { return };
        if self.overdue || now < self.step_since.saturating_add(timeout) {
            return;
        }
        self.overdue = true;
        match step.action {
            Action::Start => {
                self.stuck = true;
                self.failing = true;
            }
            Action::Stop => self.stuck = true,
            Action::Probe | Action::Monitor => self.failing = true,
        }
        events.push(AgentEvent::StepOverdue { group: self.id, resource: step.resource, action: step.action });
    }

    /// When this group's next monitor sweep is due, if it is waiting for one.
    pub(super) fn monitor_deadline(&self, target: Target) -> Option<Instant> {
        let idle = self.step.is_none() && self.probe_at.is_none() && self.monitor_at.is_none();
        let up = matches!(target, Target::Up | Target::Hold) && self.restart_from.is_none() && !self.stuck;
        (idle && up && self.initialized && self.fully_active() && !self.res.is_empty()).then_some(self.next_monitor)
    }

    /// The next step toward `target`, if one is due and none is outstanding.
    pub(super) fn next_step(&mut self, target: Target, now: Instant) -> Option<Step> {
        if self.step.is_some() {
            return None;
        }
        let (resource, action) = self.choose(target, now)?;
        if action == Action::Start {
            // From now on it may be active, whatever happens to the driver.
            if let Some(r) = self.res.get_mut(usize::from(resource)) {
                *r = Known::Unknown;
            }
        }
        if matches!(action, Action::Start | Action::Stop) {
            self.healthy = false;
        }
        let step = Step { group: self.id, resource, action };
        self.step = Some(step);
        self.step_since = now;
        self.overdue = false;
        Some(step)
    }

    fn choose(&mut self, target: Target, now: Instant) -> Option<(u8, Action)> {
        if let Some(i) = self.probe_at {
            return Some((i, Action::Probe));
        }
        match target {
            Target::Down => {
                self.monitor_at = None;
                if self.stuck {
                    return None;
                }
                self.rightmost_held(0).map(|i| (i, Action::Stop))
            }
            Target::Up => {
                if self.stuck {
                    return None;
                }
                if let Some(from) = self.restart_from {
                    if let Some(i) = self.rightmost_held(from) {
                        self.monitor_at = None;
                        return Some((i, Action::Stop));
                    }
                    self.restart_from = None;
                }
                if let Some(i) = self.res.iter().position(|r| *r != Known::Active) {
                    self.monitor_at = None;
                    return Some((index(i), Action::Start));
                }
                self.restarting = false;
                self.monitor(now)
            }
            Target::Hold => self.monitor(now),
        }
    }

    /// The next monitor step of a sweep under way or due.
    fn monitor(&mut self, now: Instant) -> Option<(u8, Action)> {
        if !self.fully_active() || self.res.is_empty() || self.restart_from.is_some() {
            self.monitor_at = None;
            return None;
        }
        if self.monitor_at.is_none() && now >= self.next_monitor {
            self.monitor_at = Some(0);
        }
        self.monitor_at.map(|i| (i, Action::Monitor))
    }

    /// The highest index at or after `from` whose resource may be active.
    fn rightmost_held(&self, from: u8) -> Option<u8> {
        self.res
            .iter()
            .enumerate()
            .skip(usize::from(from))
            .rev()
            .find(|(_, r)| **r != Known::Inactive)
            .map(|(i, _)| index(i))
    }

    /// Applies the result of the outstanding step. Returns false when
    /// `step` is not the outstanding one (a stale or foreign report).
    pub(super) fn finish(
        &mut self,
        step: Step,
        result: StepResult,
        now: Instant,
        monitor_interval: Duration,
        restart_window: Duration,
        events: &mut Vec<AgentEvent>,
    ) -> bool {
        if self.step != Some(step) {
            return false;
        }
        self.step = None;
        let g = self.id;
        let i = step.resource;
        let Some(slot) = self.res.get_mut(usize::from(i)) else { return true };
        match (step.action, result) {
            (Action::Probe, result) => {
                *slot = match result {
                    StepResult::Present(p) => p.into(),
                    _ => Known::Unknown,
                };
                if *slot != Known::Active {
                    self.healthy = false;
                }
                let next = i.saturating_add(1);
                if usize::from(next) >= self.res.len() {
                    self.probe_at = None;
                    self.initialized = true;
                    // A fresh look at the system: a stop that failed may be retried.
                    self.stuck = false;
                } else {
                    self.probe_at = Some(next);
                }
            }
            (Action::Start, StepResult::Done) => {
                *slot = Known::Active;
                if self.fully_active() {
                    self.next_monitor = now;
                    events.push(AgentEvent::Acquired { group: g });
                }
            }
            (Action::Start, result) => {
                *slot = Known::Unknown;
                self.failing = true;
                self.restarting = false;
                self.restart_from = None;
                events.push(AgentEvent::StartFailed { group: g, resource: i, result });
                events.push(AgentEvent::Failing { group: g });
            }
            (Action::Stop, StepResult::Done) => {
                *slot = Known::Inactive;
                self.stuck = false;
                if self.res.iter().all(|r| *r == Known::Inactive) {
                    events.push(AgentEvent::Released { group: g });
                }
            }
            (Action::Stop, result) => {
                *slot = Known::Unknown;
                self.stuck = true;
                events.push(AgentEvent::StopFailed { group: g, resource: i, result });
            }
            (Action::Monitor, StepResult::Healthy) => {
                let next = i.saturating_add(1);
                if usize::from(next) >= self.res.len() {
                    self.monitor_at = None;
                    self.healthy = true;
                    self.next_monitor = now.saturating_add(monitor_interval);
                } else {
                    self.monitor_at = Some(next);
                }
            }
            (Action::Monitor, result) => {
                *slot = Known::Unknown;
                self.monitor_at = None;
                self.healthy = false;
                self.next_monitor = now.saturating_add(monitor_interval);
                events.push(AgentEvent::MonitorFailed { group: g, resource: i, result });
                self.restart_or_fail(i, now, restart_window, events);
            }
        }
        true
    }

    /// After a monitor failure of resource `i`: restart from `i` (from the
    /// last resource, for a failure of one of the group's monitors: it
    /// checks the service, which a restart of the monitor alone would leave
    /// as it is) if the restart budget allows, else report the group
    /// failing.
    fn restart_or_fail(&mut self, i: u8, now: Instant, window: Duration, events: &mut Vec<AgentEvent>) {
        let i = match self.first_monitor {
            Some(first) if i >= first => first.saturating_sub(1),
            _ => i,
        };
        while self.restarts.front().is_some_and(|t| now >= t.saturating_add(window)) {
            self.restarts.pop_front();
        }
        let used = u32::try_from(self.restarts.len()).unwrap_or(u32::MAX);
        if used < self.max_restarts {
            self.restarts.push_back(now);
            self.restart_from = Some(i);
            self.restarting = true;
            events.push(AgentEvent::Restarting { group: self.id, from: i, attempt: used.saturating_add(1) });
        } else {
            self.failing = true;
            self.restarting = false;
            self.restart_from = None;
            events.push(AgentEvent::Failing { group: self.id });
        }
    }
}

/// A resource index as `u8` (groups have at most 255 resources).
fn index(i: usize) -> u8 {
    u8::try_from(i).unwrap_or(u8::MAX)
}
