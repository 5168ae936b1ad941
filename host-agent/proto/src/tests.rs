//! Unit tests of the protocol half, against a hand-driven controller session.

use warden_core::wire::{Beat, Body, Header, Message, Op, Refusal, Reply, Responder, Role, Status, Summary};
use warden_core::{Duration, GroupId, GroupSet, Instant, NodeId};

use super::step::{ErrorKind, Presence};
use super::*;

const NODE: NodeId = NodeId(1);
const G0: GroupId = GroupId(0);
const G1: GroupId = GroupId(1);

fn config(resources: u8, max_restarts: u32) -> AgentConfig {
    AgentConfig {
        node: NODE,
        groups: vec![
            GroupShape { resources, monitors: 0, max_restarts },
            GroupShape { resources: 1, monitors: 0, max_restarts },
        ],
        keepalive: Duration(100),
        controller_silence: Duration(500),
        monitor_interval: Duration(1000),
        probe_interval: Duration(60_000),
        restart_window: Duration(60_000),
        step_timeout: Duration(10_000),
        pinging: false,
    }
}

/// An agent, the controller's side of its session, and the steps it asked for.
struct Rig {
    now: Instant,
    agent: Agent,
    controller: Responder,
    sent: Vec<Message>,
    steps: Vec<Step>,
    events: Vec<AgentEvent>,
    replies: Vec<(u32, RequestOutcome)>,
    summaries: Vec<Summary>,
}

impl Rig {
    fn new(resources: u8, max_restarts: u32) -> Self {
        let agent = Agent::new(config(resources, max_restarts), Instant::ZERO, 77).unwrap();
        let mut rig = Self {
            now: Instant::ZERO,
            agent,
            controller: Responder::new(900),
            sent: Vec::new(),
            steps: Vec::new(),
            events: Vec::new(),
            replies: Vec::new(),
            summaries: Vec::new(),
        };
        rig.drain();
        rig
    }

    fn drain(&mut self) {
        while let Some(out) = self.agent.poll_output() {
            match out {
                AgentOutput::Send(m) => self.sent.push(m),
                AgentOutput::Step(s) => self.steps.push(s),
                AgentOutput::Event(e) => self.events.push(e),
                AgentOutput::Reply { id, outcome } => self.replies.push((id, outcome)),
                AgentOutput::Summary(s) => self.summaries.push(s),
                AgentOutput::History(_) | AgentOutput::Counters(_) => {}
            }
        }
    }

    /// Answers every outstanding step with `answer`, until none is left.
    fn run_steps(&mut self, mut answer: impl FnMut(Step) -> StepResult) -> Vec<Step> {
        let mut done = Vec::new();
        while !self.steps.is_empty() {
            let step = self.steps.remove(0);
            let result = answer(step);
            self.agent.handle_step(self.now, step, result);
            done.push(step);
            self.drain();
        }
        done
    }

    /// Probes answer "inactive", everything else succeeds.
    fn run_clean(&mut self) -> Vec<Step> {
        self.run_steps(|s| match s.action {
            Action::Probe => StepResult::Present(Presence::Inactive),
            Action::Monitor => StepResult::Healthy,
            Action::Start | Action::Stop => StepResult::Done,
        })
    }

    /// Delivers the agent's Hello (if any) to the controller side.
    fn handshake(&mut self) {
        for m in std::mem::take(&mut self.sent) {
            if m.body == Body::Hello {
                self.controller.accept_hello(&m.header);
            }
        }
    }

    fn beat(&mut self, want: GroupSet, role: Role) -> u64 {
        let header = self.controller.header(NODE);
        let message = Message { header, body: Body::Beat(Beat { epoch: 1, want, role }) };
        self.agent.handle_message(self.now, message);
        self.drain();
        header.seq
    }

    fn at(&mut self, ms: u64) {
        self.now = Instant(ms);
        self.agent.handle_timeout(self.now);
        self.drain();
    }

    fn last_status(&self) -> Option<Status> {
        self.sent.iter().rev().find_map(|m| match m.body {
            Body::Status(s) => Some(s),
            _ => None,
        })
    }

    fn booted(resources: u8, max_restarts: u32) -> Self {
        let mut rig = Self::new(resources, max_restarts);
        rig.run_clean();
        rig.handshake();
        rig
    }
}

fn set(groups: &[GroupId]) -> GroupSet {
    groups.iter().copied().collect()
}

#[test]
fn boot_says_hello_probes_everything_and_reports_nothing_before() {
    let mut rig = Rig::new(2, 1);
    assert!(matches!(rig.sent.as_slice(), [m] if m.body == Body::Hello), "{:?}", rig.sent);
    assert_eq!(
        rig.steps,
        vec![
            Step { group: G0, resource: 0, action: Action::Probe },
            Step { group: G1, resource: 0, action: Action::Probe }
        ]
    );
    rig.handshake();
    // A Beat establishes the session, but no Status goes out before the probes end.
    rig.beat(GroupSet::EMPTY, Role::Listening);
    assert!(rig.events.contains(&AgentEvent::Connected));
    assert_eq!(rig.last_status(), None);
    let probes = rig.run_clean();
    assert_eq!(probes.len(), 3, "every resource is probed once: {probes:?}");
    let status = rig.last_status().expect("a Status once every resource is probed");
    assert_eq!(status.holds, GroupSet::EMPTY);
}

#[test]
fn a_pinging_node_reports_nothing_before_its_first_net_score() {
    // A node with ping nodes whose first round is not in yet would report a
    // score of 0: the controller would place a group by it elsewhere, and
    // move it once the score came (found by the rig's three-server run).
    let mut rig = Rig::new(1, 1);
    let config = AgentConfig { pinging: true, ..config(1, 1) };
    rig.agent = Agent::new(config, Instant::ZERO, 78).unwrap();
    rig.sent.clear();
    rig.steps.clear();
    rig.drain();
    rig.handshake();
    rig.beat(GroupSet::EMPTY, Role::Member);
    rig.run_clean();
    assert_eq!(rig.last_status(), None, "no Status before the net score is known");
    rig.now = Instant(50);
    rig.agent.handle_net_score(rig.now, 1);
    rig.drain();
    let status = rig.last_status().expect("a Status once the net score is known");
    assert_eq!(status.net_score, 1);
}

#[test]
fn unprobed_resources_count_as_held() {
    let mut rig = Rig::new(2, 1);
    rig.handshake();
    rig.beat(GroupSet::EMPTY, Role::Member);
    let view = rig.agent.view();
    assert!(!view.initialized);
    assert_eq!(view.status.holds, set(&[G0, G1]), "nothing is known, so everything may be held");
}

#[test]
fn starts_left_to_right_stops_right_to_left_and_applies() {
    let mut rig = Rig::booted(3, 1);
    let seq = rig.beat(set(&[G0]), Role::Member);
    let steps = rig.run_clean();
    let starts: Vec<u8> = steps.iter().filter(|s| s.action == Action::Start).map(|s| s.resource).collect();
    assert_eq!(starts, vec![0, 1, 2]);
    let status = rig.last_status().unwrap();
    assert_eq!(status.holds, set(&[G0]));
    assert_eq!(status.applied, seq);
    assert_eq!(status.healthy, set(&[G0]), "a monitor sweep follows the start");
    assert!(rig.events.contains(&AgentEvent::Acquired { group: G0 }));

    let seq = rig.beat(GroupSet::EMPTY, Role::Member);
    let steps = rig.run_clean();
    let stops: Vec<u8> = steps.iter().filter(|s| s.action == Action::Stop).map(|s| s.resource).collect();
    assert_eq!(stops, vec![2, 1, 0]);
    let status = rig.last_status().unwrap();
    assert_eq!((status.holds, status.applied), (GroupSet::EMPTY, seq));
    assert!(rig.events.contains(&AgentEvent::Released { group: G0 }));
}

#[test]
fn a_release_during_a_start_is_answered_only_when_everything_is_down() {
    let mut rig = Rig::booted(2, 1);
    let want = rig.beat(set(&[G0]), Role::Member);
    assert_eq!(rig.steps, vec![Step { group: G0, resource: 0, action: Action::Start }]);
    let release = rig.beat(GroupSet::EMPTY, Role::Member);
    // The start is still outstanding: held and busy, the release not answered.
    let status = rig.agent.view().status;
    assert!(status.holds.contains(G0) && status.busy.contains(G0));
    assert!(status.applied < release, "applied {} answers the release {release}", status.applied);
    assert!(status.applied < want);
    let steps = rig.run_clean();
    assert_eq!(
        steps,
        vec![
            Step { group: G0, resource: 0, action: Action::Start },
            Step { group: G0, resource: 0, action: Action::Stop }
        ],
        "resource 1 is never started once the group left want"
    );
    let status = rig.last_status().unwrap();
    assert_eq!((status.holds, status.busy, status.applied), (GroupSet::EMPTY, GroupSet::EMPTY, release));
}

#[test]
fn silent_controller_keeps_what_is_held_and_acquires_nothing() {
    let mut rig = Rig::booted(1, 1);
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    rig.at(600);
    assert!(rig.events.contains(&AgentEvent::ControllerSilent));
    assert!(rig.agent.view().silent);
    // A probe finds G0's resource gone while silent: it is not started again.
    rig.at(60_000);
    rig.run_steps(|s| match s.action {
        Action::Probe => StepResult::Present(Presence::Inactive),
        Action::Start => panic!("started {s} while the controller is silent"),
        _ => StepResult::Done,
    });
    // A held group stays held: nothing is stopped while silent.
    let mut rig = Rig::booted(1, 1);
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    rig.at(600);
    rig.at(60_000);
    let steps = rig.run_steps(|s| match (s.group, s.action) {
        (G0, Action::Probe) => StepResult::Present(Presence::Active),
        (_, Action::Probe) => StepResult::Present(Presence::Inactive),
        (_, Action::Monitor) => StepResult::Healthy,
        _ => panic!("{s} while the controller is silent"),
    });
    assert!(steps.iter().all(|s| s.action != Action::Stop));
    assert!(rig.agent.view().status.holds.contains(G0));
}

#[test]
fn listening_changes_nothing() {
    let mut rig = Rig::new(1, 1);
    rig.run_steps(|s| match (s.group, s.action) {
        (G0, Action::Probe) => StepResult::Present(Presence::Active),
        (_, Action::Probe) => StepResult::Present(Presence::Inactive),
        (_, Action::Monitor) => StepResult::Healthy,
        _ => panic!("{s} before any Beat"),
    });
    rig.handshake();
    rig.beat(set(&[G1]), Role::Listening);
    let steps = rig.run_steps(|s| match s.action {
        Action::Monitor => StepResult::Healthy,
        _ => panic!("{s} while Listening"),
    });
    assert!(steps.iter().all(|s| s.action == Action::Monitor));
    assert_eq!(rig.last_status().unwrap().holds, set(&[G0]));
}

#[test]
fn a_failed_start_is_released_and_reported_failing_until_the_controller_moves_it() {
    let mut rig = Rig::booted(2, 1);
    rig.beat(set(&[G0]), Role::Member);
    let steps = rig.run_steps(|s| match (s.action, s.resource) {
        (Action::Start, 1) => StepResult::Failed(ErrorKind::Failed),
        _ => StepResult::Done,
    });
    let actions: Vec<(Action, u8)> = steps.iter().map(|s| (s.action, s.resource)).collect();
    assert_eq!(actions, vec![(Action::Start, 0), (Action::Start, 1), (Action::Stop, 1), (Action::Stop, 0)]);
    let status = rig.last_status().unwrap();
    assert_eq!((status.failing, status.holds), (set(&[G0]), GroupSet::EMPTY));
    // Still in want: not started again while failing.
    rig.beat(set(&[G0]), Role::Member);
    assert!(rig.steps.is_empty());
    // The controller takes it away: the failure is forgotten and it may come back.
    rig.beat(GroupSet::EMPTY, Role::Member);
    assert_eq!(rig.last_status().unwrap().failing, GroupSet::EMPTY);
    rig.beat(set(&[G0]), Role::Member);
    assert_eq!(rig.steps, vec![Step { group: G0, resource: 0, action: Action::Start }]);
}

#[test]
fn a_failed_stop_is_reported_stuck_and_held() {
    let mut rig = Rig::booted(1, 1);
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    let release = rig.beat(GroupSet::EMPTY, Role::Member);
    rig.run_steps(|s| match s.action {
        Action::Stop => StepResult::Failed(ErrorKind::Busy),
        _ => StepResult::Done,
    });
    let status = rig.last_status().unwrap();
    assert_eq!((status.stuck, status.holds), (set(&[G0]), set(&[G0])));
    assert_eq!(status.applied, release, "a failed release is still an answer: stuck and held");
    assert!(rig.steps.is_empty(), "no retry loop");
}

#[test]
fn monitor_failures_restart_from_the_failed_resource_then_fail() {
    let mut rig = Rig::booted(3, 1);
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    rig.at(1000);
    let mut failed_once = false;
    let steps = rig.run_steps(|s| match (s.action, s.resource) {
        (Action::Monitor, 1) if !failed_once => {
            failed_once = true;
            StepResult::Unhealthy
        }
        (Action::Monitor, _) => StepResult::Healthy,
        _ => StepResult::Done,
    });
    let actions: Vec<(Action, u8)> = steps.iter().map(|s| (s.action, s.resource)).collect();
    assert_eq!(
        actions,
        vec![
            (Action::Monitor, 0),
            (Action::Monitor, 1),
            (Action::Stop, 2),
            (Action::Stop, 1),
            (Action::Start, 1),
            (Action::Start, 2),
            (Action::Monitor, 0),
            (Action::Monitor, 1),
            (Action::Monitor, 2),
        ],
        "the restart is followed by a monitor sweep"
    );
    assert!(rig.events.contains(&AgentEvent::Restarting { group: G0, from: 1, attempt: 1 }));
    // Monitors run right after the restart; the second failure exhausts the budget of 1.
    rig.at(2000);
    let steps = rig.run_steps(|s| match (s.action, s.resource) {
        (Action::Monitor, 0) => StepResult::Unhealthy,
        (Action::Monitor, _) => StepResult::Healthy,
        _ => StepResult::Done,
    });
    assert!(rig.events.contains(&AgentEvent::Failing { group: G0 }));
    let stops: Vec<u8> = steps.iter().filter(|s| s.action == Action::Stop).map(|s| s.resource).collect();
    assert_eq!(stops, vec![2, 1, 0], "a failing group is released whole");
    assert_eq!(rig.last_status().unwrap().failing, set(&[G0]));
}

#[test]
fn a_group_monitor_failure_restarts_the_last_resource_with_it() {
    // Resources 0 and 1, then the group's monitor (2): it checks the
    // service, so a restart begins at the service, not at the monitor.
    let mut rig = Rig::booted(3, 1);
    let shape = GroupShape { resources: 3, monitors: 1, max_restarts: 1 };
    let config =
        AgentConfig { groups: vec![shape, GroupShape { resources: 1, monitors: 0, max_restarts: 1 }], ..config(3, 1) };
    rig.agent = Agent::new(config, rig.now, 79).unwrap();
    rig.sent.clear();
    rig.steps.clear();
    rig.drain();
    rig.run_clean();
    rig.handshake();
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    rig.at(1000);
    let mut failed_once = false;
    let steps = rig.run_steps(|s| match (s.action, s.resource) {
        (Action::Monitor, 2) if !failed_once => {
            failed_once = true;
            StepResult::Unhealthy
        }
        (Action::Monitor, _) => StepResult::Healthy,
        _ => StepResult::Done,
    });
    let moved: Vec<(Action, u8)> =
        steps.iter().filter(|s| s.action != Action::Monitor).map(|s| (s.action, s.resource)).collect();
    assert_eq!(moved, vec![(Action::Stop, 2), (Action::Stop, 1), (Action::Start, 1), (Action::Start, 2)]);
    assert!(rig.events.contains(&AgentEvent::Restarting { group: G0, from: 1, attempt: 1 }));
}

#[test]
fn a_restarted_controller_gets_a_new_handshake_and_no_stale_applied() {
    let mut rig = Rig::booted(1, 1);
    for _ in 0..5 {
        rig.beat(set(&[G0]), Role::Member);
    }
    rig.run_clean();
    assert!(rig.last_status().unwrap().applied >= 5);
    // The controller restarts: its beats echo 0 (it does not know this agent).
    rig.controller = Responder::new(5000);
    rig.sent.clear();
    rig.now = Instant(200);
    rig.beat(set(&[G0]), Role::Listening);
    assert!(rig.events.contains(&AgentEvent::Rehandshake));
    assert!(!rig.agent.view().connected);
    let hello = rig.sent.iter().find(|m| m.body == Body::Hello).expect("a new Hello");
    assert_eq!(hello.header.echo, 0);
    rig.handshake();
    let seq = rig.beat(set(&[G0]), Role::Listening);
    let status = rig.last_status().unwrap();
    assert_eq!(status.applied, seq, "applied names a Beat of the new session");
    assert_eq!(status.holds, set(&[G0]));
}

#[test]
fn foreign_and_stale_input_changes_nothing() {
    let mut rig = Rig::booted(1, 1);
    let before = rig.agent.clone();
    let header = Header { node: NodeId(5), nonce: 1, echo: 77, seq: 9 };
    rig.agent.handle_message(
        Instant::ZERO,
        Message { header, body: Body::Beat(Beat { epoch: 1, want: set(&[G0]), role: Role::Member }) },
    );
    rig.agent.handle_step(
        Instant::ZERO,
        Step { group: GroupId(9), resource: 0, action: Action::Start },
        StepResult::Done,
    );
    rig.agent.handle_step(Instant::ZERO, Step { group: G0, resource: 0, action: Action::Stop }, StepResult::Done);
    assert!(rig.agent.poll_output().is_none());
    assert_eq!(rig.agent.stats().unexpected, 1);
    assert_eq!(rig.agent.stats().stale_steps, 2);
    assert_eq!(rig.agent.view(), before.view());
}

#[test]
fn requests_need_a_session_and_get_their_reply() {
    let mut rig = Rig::new(1, 1);
    assert_eq!(rig.agent.request(Instant::ZERO, Op::Standby { node: NODE }), Err(RequestError::NotConnected));
    rig.run_clean();
    rig.handshake();
    rig.beat(GroupSet::EMPTY, Role::Member);
    let id = rig.agent.request(rig.now, Op::Fence { node: NodeId(0) }).unwrap();
    rig.drain();
    let request = rig.sent.last().unwrap();
    assert!(matches!(request.body, Body::Request(r) if r.id == id));
    rig.controller.accept(&request.header).unwrap();
    let header = rig.controller.header(NODE);
    let outcome = Err(Refusal::AlreadyFenced);
    rig.agent.handle_message(rig.now, Message { header, body: Body::Reply(Reply { id, outcome }) });
    rig.drain();
    assert_eq!(rig.replies, vec![(id, outcome)]);
}

#[test]
fn bad_configuration_is_refused() {
    let mut c = config(1, 1);
    c.keepalive = Duration::ZERO;
    assert_eq!(Agent::new(c, Instant::ZERO, 1).err(), Some(AgentConfigError::ZeroTiming("keepalive")));
    let mut c = config(1, 1);
    c.groups = vec![GroupShape { resources: 1, monitors: 0, max_restarts: 0 }; 33];
    assert_eq!(Agent::new(c, Instant::ZERO, 1).err(), Some(AgentConfigError::TooManyGroups(33)));
}

#[test]
fn timers_never_stay_due() {
    let mut rig = Rig::booted(2, 1);
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    for ms in (0..5000).step_by(37) {
        rig.at(ms);
        rig.run_clean();
        let next = rig.agent.poll_timeout().unwrap();
        assert!(next > rig.now, "at {} the agent says {next} is due but did nothing", rig.now);
    }
}

#[test]
fn a_step_that_never_ends_is_reported_not_hidden() {
    let mut rig = Rig::booted(1, 1);
    rig.beat(set(&[G0]), Role::Member);
    rig.run_clean();
    let release = rig.beat(GroupSet::EMPTY, Role::Member);
    let stop = rig.steps.remove(0);
    assert_eq!(stop.action, Action::Stop);
    // The driver never answers: after the step timeout the group is stuck.
    rig.at(9_999);
    assert_eq!(rig.agent.view().status.stuck, GroupSet::EMPTY);
    rig.at(10_000);
    let status = rig.last_status().unwrap();
    assert_eq!((status.stuck, status.holds), (set(&[G0]), set(&[G0])));
    assert!(status.applied < release, "the release is not answered while the stop is outstanding");
    assert!(rig.events.contains(&AgentEvent::StepOverdue { group: G0, resource: 0, action: Action::Stop }));
    // A late answer is still taken.
    rig.agent.handle_step(rig.now, stop, StepResult::Done);
    rig.drain();
    let status = rig.agent.view().status;
    assert_eq!((status.stuck, status.holds, status.applied), (GroupSet::EMPTY, GroupSet::EMPTY, release));
}

#[test]
fn a_describe_request_gets_the_controller_summary() {
    let mut rig = Rig::booted(1, 1);
    rig.beat(GroupSet::EMPTY, Role::Member);
    let id = rig.agent.request(rig.now, Op::Describe).unwrap();
    rig.drain();
    let request = rig.sent.last().unwrap();
    rig.controller.accept(&request.header).unwrap();
    let header = rig.controller.header(NODE);
    let summary = Summary::new(id, 5, 2, 2);
    rig.agent.handle_message(rig.now, Message { header, body: Body::Summary(summary) });
    rig.drain();
    assert_eq!(rig.summaries, vec![summary]);
    // A stale one (replayed) is refused by the session.
    rig.agent.handle_message(rig.now, Message { header, body: Body::Summary(summary) });
    rig.drain();
    assert_eq!(rig.summaries.len(), 1);
}

#[test]
fn a_group_without_resources_here_is_never_probed_nor_held() {
    let mut c = config(1, 1);
    c.groups[1] = GroupShape { resources: 0, monitors: 0, max_restarts: 0 };
    let mut agent = Agent::new(c, Instant::ZERO, 5).unwrap();
    let mut steps = Vec::new();
    while let Some(out) = agent.poll_output() {
        if let AgentOutput::Step(s) = out {
            steps.push(s);
        }
    }
    assert_eq!(steps, vec![Step { group: G0, resource: 0, action: Action::Probe }]);
    agent.handle_step(Instant::ZERO, steps[0], StepResult::Present(Presence::Inactive));
    agent.handle_timeout(Instant(120_000));
    let view = agent.view();
    assert!(view.initialized);
    assert!(!view.status.holds.contains(G1));
    while let Some(out) = agent.poll_output() {
        assert!(!matches!(out, AgentOutput::Step(s) if s.group == G1), "{out:?}");
    }
}
