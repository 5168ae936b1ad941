//! The actions against a played controller with a clock of its own: it
//! moves only when an action pauses, so a 20 s timeout takes no time and
//! every test is the same each run.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;

const ALPHA: Target = Target { name: String::new(), id: NodeId(0) };

fn alpha() -> Target {
    Target { name: "alpha".into(), ..ALPHA }
}

const TIMING: Timing = Timing {
    delay: Duration::ZERO,
    login: Duration::from_secs(5),
    power: Duration::from_secs(20),
    power_wait: Duration::ZERO,
};

const UP_ON: Seen = Seen { life: Life::Up, powered: Some(true) };
const FENCING_ON: Seen = Seen { life: Life::Fencing, powered: Some(true) };
const FENCED_OFF: Seen = Seen { life: Life::Fenced, powered: Some(false) };
const BOOTING_ON: Seen = Seen { life: Life::Booting, powered: Some(true) };

/// What the played controller does.
struct Played {
    /// Its nodes' states.
    nodes: Vec<Seen>,
    /// Its answer to a request.
    answer: fn(&Op, &[Seen]) -> Result<(), Refusal>,
    /// How the nodes change at each describe after a request it accepted
    /// (`steps` counts the describes since).
    step: fn(&Op, usize, &mut [Seen]),
    /// Describes since the last accepted request, and that request.
    since: Option<(Op, usize)>,
    /// Whether it answers at all.
    reachable: bool,
    /// The virtual clock, from the start.
    elapsed: Duration,
    /// What happened, in order: `open`, `request fence 0`, `describe:
    /// fencing, power on`, `pause 100`.
    events: Vec<String>,
    /// Session deadlines asked for, from the start.
    deadlines: Vec<Duration>,
}

#[derive(Clone)]
struct Fake {
    start: Instant,
    played: Rc<RefCell<Played>>,
}

impl Fake {
    fn new(nodes: Vec<Seen>) -> Self {
        let played = Played {
            nodes,
            answer: |_, _| Ok(()),
            step: |_, _, _| {},
            since: None,
            reachable: true,
            elapsed: Duration::ZERO,
            events: Vec::new(),
            deadlines: Vec::new(),
        };
        Self { start: Instant::now(), played: Rc::new(RefCell::new(played)) }
    }

    fn with(self, f: impl FnOnce(&mut Played)) -> Self {
        f(&mut self.played.borrow_mut());
        self
    }

    fn events(&self) -> Vec<String> {
        self.played.borrow().events.clone()
    }

    fn elapsed(&self) -> Duration {
        self.played.borrow().elapsed
    }

    fn peer() -> SocketAddr {
        ([127, 0, 0, 1], 7694).into()
    }
}

impl Endpoint for Fake {
    type Session = Self;

    fn open(&mut self, deadline: Instant) -> Result<Self, ClientError> {
        let mut p = self.played.borrow_mut();
        let at = deadline.saturating_duration_since(self.start);
        p.deadlines.push(at);
        if !p.reachable {
            let waited = at.saturating_sub(p.elapsed);
            p.elapsed = at;
            p.events.push("open: no answer".into());
            return Err(ClientError::NoAnswer { peer: Self::peer(), waited });
        }
        p.events.push("open".into());
        drop(p);
        Ok(self.clone())
    }

    fn now(&self) -> Instant {
        self.start + self.played.borrow().elapsed
    }

    fn pause(&mut self, span: Duration) {
        let mut p = self.played.borrow_mut();
        p.elapsed += span;
        p.events.push(format!("pause {}", span.as_millis()));
    }
}

fn op_words(op: &Op) -> String {
    match op {
        Op::Fence { node } => format!("fence {}", node.0),
        Op::Unfence { node } => format!("unfence {}", node.0),
        other => format!("{other:?}"),
    }
}

impl Session for Fake {
    fn request(&mut self, op: Op) -> Result<Result<(), Refusal>, ClientError> {
        let mut p = self.played.borrow_mut();
        let answer = (p.answer)(&op, &p.nodes);
        p.events.push(format!("request {}: {}", op_words(&op), answer.map_or_else(|r| r.name(), |()| "accepted")));
        if answer.is_ok() {
            p.since = Some((op, 0));
        }
        Ok(answer)
    }

    fn describe(&mut self) -> Result<Summary, ClientError> {
        let mut p = self.played.borrow_mut();
        if let Some((op, n)) = p.since {
            let step = p.step;
            step(&op, n, &mut p.nodes);
            p.since = Some((op, n + 1));
        }
        let mut summary = Summary::new(1, 60, u8::try_from(p.nodes.len()).unwrap(), 0);
        for (id, seen) in p.nodes.iter().enumerate() {
            let node = NodeSummary {
                life: seen.life,
                standby: false,
                powered: seen.powered,
                fence_record: seen.life == Life::Fenced,
                heard_ago: None,
            };
            summary.set_node(NodeId(u8::try_from(id).unwrap()), node);
        }
        let line = format!("describe: {}", p.nodes.first().map_or_else(String::new, ToString::to_string));
        p.events.push(line);
        Ok(summary)
    }
}

/// Fencing for the first three describes after the request, then fenced.
fn fence_in_three(op: &Op, n: usize, nodes: &mut [Seen]) {
    if let (Op::Fence { node }, Some(s)) = (op, nodes.first_mut()) {
        assert_eq!(node.0, 0);
        *s = if n < 3 { FENCING_ON } else { FENCED_OFF };
    }
}

/// Lines written to standard error, and the log that writes them.
fn logged(verbose: bool, f: impl FnOnce(&mut Log<'_>)) -> String {
    let mut err = Vec::new();
    f(&mut Log::new(&mut err, verbose, false));
    String::from_utf8(err).unwrap()
}

#[test]
fn off_is_confirmed_only_when_fenced_and_sensed_off() {
    let mut fake = Fake::new(vec![UP_ON, UP_ON]).with(|p| p.step = fence_in_three);
    let mut result = None;
    let err = logged(true, |log| result = Some(off(&mut fake, &alpha(), &TIMING, log)));
    let confirmed = result.unwrap().unwrap();
    assert_eq!(confirmed.seen, FENCED_OFF);
    assert_eq!(confirmed.after, FIRST_POLL * (1 + 2 + 4), "three looks at `fencing` before, backing off");
    assert_eq!(
        fake.events(),
        [
            "open",
            "request fence 0: accepted",
            "open",
            "describe: fencing, power on",
            "pause 5",
            "describe: fencing, power on",
            "pause 10",
            "describe: fencing, power on",
            "pause 20",
            "describe: fenced, power off",
        ],
        "nothing after the confirming describe"
    );
    assert!(err.contains("fence_warden: `alpha`: fencing, power on (0 ms)"), "{err}");
    assert!(err.contains("fence_warden: alpha off confirmed by the controller's sense after 35 ms"), "{err}");
    assert_eq!(err.matches("fencing, power on").count(), 1, "a state is told once: {err}");
}

#[test]
fn a_success_writes_nothing_on_stderr_unless_verbose() {
    // Pacemaker logs every line an agent writes on stderr as a warning.
    let mut fake = Fake::new(vec![FENCED_OFF]).with(|p| p.answer = |_, _| Err(Refusal::AlreadyFenced));
    let err = logged(false, |log| off(&mut fake, &alpha(), &TIMING, log).map(|_| ()).unwrap());
    assert_eq!(err, "");
    let mut fake = Fake::new(vec![FENCED_OFF]).with(|p| p.answer = |_, _| Err(Refusal::AlreadyFenced));
    let err = logged(true, |log| off(&mut fake, &alpha(), &TIMING, log).map(|_| ()).unwrap());
    assert!(err.ends_with("fence_warden: alpha off confirmed by the controller's sense after 0 ms\n"), "{err}");
}

#[test]
fn already_fenced_still_waits_for_the_confirmation() {
    let mut fake = Fake::new(vec![FENCING_ON]).with(|p| {
        p.answer = |_, _| Err(Refusal::AlreadyFenced);
        p.step = |_, _, _| {};
    });
    // A fence under way that the controller never confirms.
    let e = logged(false, |log| {
        let e = off(&mut fake, &alpha(), &TIMING, log).unwrap_err();
        assert_eq!(e.to_string(), "`alpha` not confirmed off within 20000 ms: last seen fencing, power on");
    });
    assert!(e.is_empty(), "no confirmation line: {e}");
    assert_eq!(fake.elapsed(), TIMING.power, "it waited the whole timeout, not more");
    assert!(fake.events().iter().any(|e| e == "request fence 0: already_fenced"));
}

#[test]
fn a_relay_that_never_confirms_is_a_failure() {
    let mut fake = Fake::new(vec![UP_ON]).with(|p| p.step = |_, _, nodes| nodes[0] = FENCING_ON);
    let timing = Timing { power: Duration::from_millis(450), ..TIMING };
    logged(false, |log| {
        let e = off(&mut fake, &alpha(), &timing, log).unwrap_err();
        assert!(matches!(e, ActionError::NotConfirmed { last: Some(FENCING_ON), cause: None, .. }), "{e:?}");
    });
    let events = fake.events();
    assert_eq!(
        events.iter().filter(|e| e.starts_with("describe")).count(),
        9,
        "at 0, 5, 15, 35, 75, 155, 255, 355 and 450 ms"
    );
    assert_eq!(events.last().map(String::as_str), Some("describe: fencing, power on"), "the last look at the deadline");
    assert_eq!(fake.played.borrow().deadlines[1], Duration::from_millis(450) + POLL, "{events:?}");
}

#[test]
fn other_refusals_fail_at_once_with_the_controllers_words() {
    let mut fake = Fake::new(vec![UP_ON]).with(|p| p.answer = |_, _| Err(Refusal::Unsafe));
    logged(false, |log| {
        let e = off(&mut fake, &alpha(), &TIMING, log).unwrap_err();
        assert_eq!(e.to_string(), "the controller refused to fence `alpha`: refused as unsafe (unsafe)");
    });
    assert_eq!(fake.events(), ["open", "request fence 0: unsafe"]);
}

#[test]
fn an_unreachable_controller_fails_at_the_login_timeout() {
    let mut fake = Fake::new(vec![UP_ON]).with(|p| p.reachable = false);
    let timing = Timing { delay: Duration::from_secs(1), ..TIMING };
    logged(false, |log| {
        let e = off(&mut fake, &alpha(), &timing, log).unwrap_err();
        assert!(matches!(e, ActionError::Unreachable(ClientError::NoAnswer { .. })), "{e:?}");
        assert!(e.to_string().starts_with("no answer from the controller's operator endpoint at 127.0.0.1:7694"));
    });
    assert_eq!(fake.events(), ["pause 1000", "open: no answer"], "the delay comes first");
    assert_eq!(fake.elapsed(), Duration::from_secs(6));
}

#[test]
fn on_waits_for_power_and_the_node_no_longer_fenced() {
    let mut fake = Fake::new(vec![FENCED_OFF]).with(|p| {
        p.step =
            |_, n, nodes| nodes[0] = if n < 2 { Seen { life: Life::Fenced, powered: Some(true) } } else { BOOTING_ON };
    });
    let timing = Timing { power_wait: Duration::from_secs(2), ..TIMING };
    let err = logged(true, |log| assert_eq!(on(&mut fake, &alpha(), &timing, log).unwrap().seen, BOOTING_ON));
    assert!(err.contains("fence_warden: alpha on confirmed by the controller's sense after 15 ms\n"), "{err}");
    assert_eq!(fake.events().first_chunk::<2>().unwrap(), &["open".to_owned(), "request unfence 0: accepted".into()]);
    assert_eq!(fake.events().last().map(String::as_str), Some("pause 2000"), "power_wait after the confirmation");
}

#[test]
fn on_of_a_node_that_is_not_fenced() {
    // Up and powered: nothing to do but see it.
    let mut fake = Fake::new(vec![UP_ON]).with(|p| p.answer = |_, _| Err(Refusal::NotFenced));
    logged(false, |log| assert_eq!(on(&mut fake, &alpha(), &TIMING, log).unwrap().after, Duration::ZERO));
    // Being fenced: refused, with what it is.
    let mut fake = Fake::new(vec![FENCING_ON]).with(|p| p.answer = |_, _| Err(Refusal::NotFenced));
    logged(false, |log| {
        let e = on(&mut fake, &alpha(), &TIMING, log).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the controller refused to unfence `alpha`: the node is neither fenced nor dead with its power off \
             (not_fenced): it is fencing, power on"
        );
    });
}

#[test]
fn reboot_succeeds_with_the_off_part_and_warns_when_on_fails() {
    let mut fake = Fake::new(vec![UP_ON]).with(|p| {
        p.answer = |op, _| if matches!(op, Op::Unfence { .. }) { Err(Refusal::Unsafe) } else { Ok(()) };
        p.step = fence_in_three;
    });
    let err = logged(true, |log| {
        reboot(&mut fake, &alpha(), &TIMING, log).unwrap();
    });
    assert!(err.contains("alpha off confirmed"), "{err}");
    assert!(
        err.contains(
            "fence_warden: warning: `alpha` is fenced, but was not powered on again: the controller refused to \
             unfence `alpha`"
        ),
        "{err}"
    );
    // The off part failing is the reboot failing.
    let mut fake = Fake::new(vec![UP_ON]).with(|p| p.answer = |_, _| Err(Refusal::UnknownNode));
    logged(false, |log| assert!(reboot(&mut fake, &alpha(), &TIMING, log).is_err()));
    assert!(!fake.events().iter().any(|e| e.contains("unfence")), "no on after a failed off");
}

#[test]
fn status_tells_the_sensed_power() {
    let beta = Target { name: "beta".into(), id: NodeId(1) };
    let mut fake = Fake::new(vec![UP_ON, FENCED_OFF, Seen { life: Life::Dead, powered: None }]);
    assert!(status(&mut fake, &alpha(), &TIMING).unwrap());
    assert!(!status(&mut fake, &beta, &TIMING).unwrap());
    let gamma = Target { name: "gamma".into(), id: NodeId(2) };
    let e = status(&mut fake, &gamma, &TIMING).unwrap_err();
    assert_eq!(e.to_string(), "the controller does not know whether `gamma` is powered (dead)");
    let delta = Target { name: "delta".into(), id: NodeId(3) };
    let e = status(&mut fake, &delta, &TIMING).unwrap_err();
    assert!(e.to_string().starts_with("the controller's cluster has 3 nodes, and `delta` (node 3) is not among them"));
}

#[test]
fn perform_writes_the_fence_agents_words() {
    let nodes = vec!["alpha".to_owned(), "beta".into(), "gamma".into()];
    let setup = |target: Option<Target>| Setup { nodes: nodes.clone(), auth: Auth::Crc, peer: Fake::peer(), target };
    let run = |action, target: Option<Target>| {
        let mut fake = Fake::new(vec![UP_ON, FENCED_OFF]);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let exit = perform(&mut fake, action, &setup(target), &TIMING, &mut out, &mut Log::new(&mut err, false, false));
        (exit.map_err(|e| e.to_string()), String::from_utf8(out).unwrap())
    };
    let beta = Target { name: "beta".into(), id: NodeId(1) };
    assert_eq!(run(Action::Status, Some(alpha())), (Ok(Exit::Success), "Status: ON\n".into()));
    assert_eq!(run(Action::Status, Some(beta)), (Ok(Exit::Off), "Status: OFF\n".into()));
    // gamma is in the file but not in the controller's cluster: not listed.
    assert_eq!(run(Action::List, None), (Ok(Exit::Success), "alpha,\nbeta,\n".into()));
    assert_eq!(run(Action::ListStatus, None), (Ok(Exit::Success), "alpha,,on\nbeta,,off\n".into()));
    assert_eq!(run(Action::Monitor, None), (Ok(Exit::Success), String::new()));
    assert_eq!(
        run(Action::Off, None),
        (Err("no plug: give `plug=NODE` (or `port`, `nodename`, `-n`)".into()), String::new())
    );
}
