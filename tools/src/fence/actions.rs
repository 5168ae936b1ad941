//! The actions, written against [`Endpoint`]: a controller's operator
//! endpoint and the clock the agent waits by. [`Udp`] is the real one; the
//! tests put a played controller and a clock of their own in its place.
//!
//! `off` is confirmed only by what the controller reports: the node
//! `fenced` and its power sensed off. `on` (Warden's unfence) only by its
//! power sensed on and the node no longer fenced. Anything else by the
//! deadline is a failure that says what was last seen.

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use warden_core::controller::Life;
use warden_core::wire::{Auth, NodeSummary, Op, Refusal, Summary};
use warden_core::NodeId;

use super::options::{Action, Options};
use super::setup::{Setup, SetupError, Target};
use super::{Error, Exit};
use crate::operator::{Client, ClientError};

/// How often the controller's view is asked for while waiting.
pub const POLL: Duration = Duration::from_millis(100);
/// The first pause between two looks: a relay cut and its sense take a few
/// milliseconds, so the looks start close and back off (doubling) to [`POLL`].
pub const FIRST_POLL: Duration = Duration::from_millis(5);

/// One session with the controller's operator endpoint.
///
/// # Contract
///
/// Each call returns once it is answered, or with
/// [`ClientError::NoAnswer`] at the session's deadline, or at once with
/// [`ClientError::KeyRefused`]; never an answer from an earlier call.
pub trait Session {
    /// Carries out `op`: `Ok(Ok(()))` accepted, `Ok(Err)` refused, and why.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when no answer came.
    fn request(&mut self, op: Op) -> Result<Result<(), Refusal>, ClientError>;

    /// The cluster as the controller sees it now.
    ///
    /// # Errors
    ///
    /// [`ClientError`] when no answer came.
    fn describe(&mut self) -> Result<Summary, ClientError>;
}

/// A controller's operator endpoint, and the clock the agent waits by.
///
/// # Contract
///
/// `now` is monotonic; `pause` returns once `now` has moved on by the span.
/// `open` returns a session whose every call is answered by `deadline`, or
/// fails by then.
pub trait Endpoint {
    /// Its sessions.
    type Session: Session;

    /// Opens a session.
    ///
    /// # Errors
    ///
    /// [`ClientError`]: no answer by the deadline, the key refused.
    fn open(&mut self, deadline: Instant) -> Result<Self::Session, ClientError>;

    /// The time now.
    fn now(&self) -> Instant;

    /// Waits for `span`.
    fn pause(&mut self, span: Duration);
}

/// The controller's operator endpoint over UDP, and the system's clock.
#[derive(Debug, Clone)]
pub struct Udp {
    peer: SocketAddr,
    auth: Auth,
}

impl Udp {
    /// The endpoint at `peer`, under `auth`.
    #[must_use]
    pub const fn new(peer: SocketAddr, auth: Auth) -> Self {
        Self { peer, auth }
    }
}

impl Endpoint for Udp {
    type Session = Client;

    fn open(&mut self, deadline: Instant) -> Result<Client, ClientError> {
        Client::connect(self.peer, self.auth.clone(), deadline)
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn pause(&mut self, span: Duration) {
        std::thread::sleep(span);
    }
}

impl Session for Client {
    fn request(&mut self, op: Op) -> Result<Result<(), Refusal>, ClientError> {
        Self::request(self, op)
    }

    fn describe(&mut self) -> Result<Summary, ClientError> {
        Self::describe(self)
    }
}

/// The waits of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Before `off` (and `reboot`) starts.
    pub delay: Duration,
    /// For a session to open and a request to be answered.
    pub login: Duration,
    /// For the confirmation, from the request's answer.
    pub power: Duration,
    /// After a confirmation.
    pub power_wait: Duration,
}

impl From<&Options> for Timing {
    fn from(o: &Options) -> Self {
        Self { delay: o.delay, login: o.login_timeout, power: o.power_timeout, power_wait: o.power_wait }
    }
}

/// A node's state as a summary gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Its life.
    pub life: Life,
    /// Its sensed power (`None`: unknown).
    pub powered: Option<bool>,
}

impl From<NodeSummary> for Seen {
    fn from(n: NodeSummary) -> Self {
        Self { life: n.life, powered: n.powered }
    }
}

impl fmt::Display for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, power {}", self.life.name(), power_word(self.powered))
    }
}

/// `on`, `off` or `unknown`.
#[must_use]
pub const fn power_word(powered: Option<bool>) -> &'static str {
    match powered {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

/// What a confirmation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Fenced, its power sensed off.
    Off,
    /// Its power sensed on, not fenced nor being fenced.
    On,
}

impl Want {
    /// Whether `seen` is it.
    #[must_use]
    pub const fn holds(self, seen: Seen) -> bool {
        match self {
            Self::Off => matches!(seen.life, Life::Fenced) && matches!(seen.powered, Some(false)),
            Self::On => !matches!(seen.life, Life::Fenced | Life::Fencing) && matches!(seen.powered, Some(true)),
        }
    }

    /// `off` or `on`.
    #[must_use]
    pub const fn word(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
        }
    }
}

/// A confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    /// From the request sent to the summary that showed it.
    pub after: Duration,
    /// What that summary showed.
    pub seen: Seen,
}

/// Why an action failed. Each names the node or the controller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The controller did not answer, or refused the key.
    #[error(transparent)]
    Unreachable(#[from] ClientError),
    /// The controller refused the request.
    #[error("the controller refused to {verb} `{node}`: {} ({}){}", refusal.describe(), refusal.name(), seen_then(seen.as_ref()))]
    Refused {
        /// `fence` or `unfence`.
        verb: &'static str,
        /// The node.
        node: String,
        /// Why.
        refusal: Refusal,
        /// The node's state just after, when it was asked for.
        seen: Option<Seen>,
    },
    /// No confirmation by the deadline.
    #[error(
        "`{node}` not confirmed {want} within {} ms: {}{}",
        waited.as_millis(),
        last.map_or_else(|| "no state seen".to_owned(), |s| format!("last seen {s}")),
        cause.as_ref().map(|c| format!("; {c}")).unwrap_or_default()
    )]
    NotConfirmed {
        /// The node.
        node: String,
        /// `off` or `on`.
        want: &'static str,
        /// How long it waited for it.
        waited: Duration,
        /// The last state seen.
        last: Option<Seen>,
        /// Why it stopped asking, if the controller stopped answering.
        cause: Option<ClientError>,
    },
    /// The controller's cluster has no such node.
    #[error(
        "the controller's cluster has {nodes} nodes, and `{node}` (node {id}) is not among them: \
         is the cluster file the controller's?"
    )]
    NotInCluster {
        /// The node.
        node: String,
        /// Its id in the cluster file.
        id: u8,
        /// The controller's node count.
        nodes: u8,
    },
    /// The controller does not know whether the node is powered.
    #[error("the controller does not know whether `{node}` is powered ({life})")]
    PowerUnknown {
        /// The node.
        node: String,
        /// Its life.
        life: &'static str,
    },
    /// Standard output could not be written.
    #[error("standard output: {0}")]
    Output(#[from] std::io::Error),
}

fn seen_then(seen: Option<&Seen>) -> String {
    seen.map(|s| format!(": it is {s}")).unwrap_or_default()
}

/// Where the agent tells what it does: lines on standard error, each
/// starting `fence_warden: `.
pub struct Log<'a> {
    err: &'a mut dyn Write,
    verbose: bool,
    quiet: bool,
}

impl fmt::Debug for Log<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Log").field("verbose", &self.verbose).field("quiet", &self.quiet).finish_non_exhaustive()
    }
}

impl<'a> Log<'a> {
    /// Writes to `err`; progress only when `verbose`, warnings unless `quiet`.
    pub fn new(err: &'a mut dyn Write, verbose: bool, quiet: bool) -> Self {
        Self { err, verbose, quiet }
    }

    /// A step (with `verbose`).
    pub fn progress(&mut self, line: fmt::Arguments<'_>) {
        if self.verbose {
            self.line(line);
        }
    }

    /// Something the caller should know though the action succeeded
    /// (unless `quiet`).
    pub fn warn(&mut self, line: fmt::Arguments<'_>) {
        if !self.quiet {
            self.line(format_args!("warning: {line}"));
        }
    }

    /// A result line, always.
    pub fn always(&mut self, line: fmt::Arguments<'_>) {
        self.line(line);
    }

    fn line(&mut self, line: fmt::Arguments<'_>) {
        // Standard error gone: nothing is left to tell it to.
        let _ = writeln!(self.err, "fence_warden: {line}");
    }
}

/// `now + span`, or far enough when that does not fit.
fn after(now: Instant, span: Duration) -> Instant {
    now.checked_add(span).or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX)))).unwrap_or(now)
}

/// The node's state in `summary`.
fn node_in(summary: &Summary, target: &Target) -> Result<Seen, ActionError> {
    summary.node(target.id).map(Seen::from).ok_or_else(|| ActionError::NotInCluster {
        node: target.name.clone(),
        id: target.id.0,
        nodes: summary.nodes,
    })
}

/// Fences `target`: the `Fence` request (accepted, or refused as already
/// fenced), then the controller's view until the node is fenced and its
/// power sensed off.
///
/// # Errors
///
/// [`ActionError`]: unreachable, refused, not confirmed by the deadline.
pub fn off<E: Endpoint>(
    endpoint: &mut E,
    target: &Target,
    timing: &Timing,
    log: &mut Log<'_>,
) -> Result<Confirmed, ActionError> {
    if !timing.delay.is_zero() {
        log.progress(format_args!("waiting {} ms (delay) before fencing `{}`", timing.delay.as_millis(), target.name));
        endpoint.pause(timing.delay);
    }
    let mut session = endpoint.open(after(endpoint.now(), timing.login))?;
    let sent = endpoint.now();
    log.progress(format_args!("asking the controller to fence `{}` (node {})", target.name, target.id.0));
    match session.request(Op::Fence { node: target.id })? {
        Ok(()) => log.progress(format_args!("fence of `{}` accepted", target.name)),
        Err(Refusal::AlreadyFenced) => {
            log.progress(format_args!("`{}` is already fenced or being fenced (already_fenced)", target.name));
        }
        Err(refusal) => {
            return Err(ActionError::Refused { verb: "fence", node: target.name.clone(), refusal, seen: None })
        }
    }
    drop(session);
    confirm(endpoint, target, sent, timing, Want::Off, log)
}

/// Admits `target` back (Warden's unfence): the `Unfence` request
/// (accepted, or refused as not fenced while the node is neither fenced
/// nor being fenced), then the controller's view until its power is sensed
/// on and it is no longer fenced.
///
/// # Errors
///
/// [`ActionError`]: unreachable, refused, not confirmed by the deadline.
pub fn on<E: Endpoint>(
    endpoint: &mut E,
    target: &Target,
    timing: &Timing,
    log: &mut Log<'_>,
) -> Result<Confirmed, ActionError> {
    let mut session = endpoint.open(after(endpoint.now(), timing.login))?;
    let sent = endpoint.now();
    log.progress(format_args!("asking the controller to unfence `{}` (node {})", target.name, target.id.0));
    match session.request(Op::Unfence { node: target.id })? {
        Ok(()) => log.progress(format_args!("unfence of `{}` accepted", target.name)),
        Err(refusal @ Refusal::NotFenced) => {
            let seen = node_in(&session.describe()?, target)?;
            if matches!(seen.life, Life::Fenced | Life::Fencing) {
                return Err(ActionError::Refused {
                    verb: "unfence",
                    node: target.name.clone(),
                    refusal,
                    seen: Some(seen),
                });
            }
            log.progress(format_args!("`{}` is not fenced ({seen}): waiting for its power on", target.name));
        }
        Err(refusal) => {
            return Err(ActionError::Refused { verb: "unfence", node: target.name.clone(), refusal, seen: None })
        }
    }
    drop(session);
    confirm(endpoint, target, sent, timing, Want::On, log)
}

/// Waits for `want`, asking for the controller's view after [`FIRST_POLL`],
/// then less and less often, at most every [`POLL`], until
/// `timing.power` from now; `sent` is when the request went out. Ends with
/// the confirmation line (always) and `power_wait`.
fn confirm<E: Endpoint>(
    endpoint: &mut E,
    target: &Target,
    sent: Instant,
    timing: &Timing,
    want: Want,
    log: &mut Log<'_>,
) -> Result<Confirmed, ActionError> {
    let deadline = after(endpoint.now(), timing.power);
    let not_confirmed = |last, cause| ActionError::NotConfirmed {
        node: target.name.clone(),
        want: want.word(),
        waited: timing.power,
        last,
        cause,
    };
    // A session of its own: a session's deadline bounds every call made on
    // it, and this wait outlasts the login's. The last look, at the
    // deadline, may take one more poll to be answered.
    let mut session = endpoint.open(after(deadline, POLL)).map_err(|e| not_confirmed(None, Some(e)))?;
    let mut last: Option<Seen> = None;
    let mut pause = FIRST_POLL;
    loop {
        let summary = match session.describe() {
            Ok(s) => s,
            Err(e) => return Err(not_confirmed(last, Some(e))),
        };
        let seen = node_in(&summary, target)?;
        let now = endpoint.now();
        let elapsed = now.saturating_duration_since(sent);
        if last != Some(seen) {
            log.progress(format_args!("`{}`: {seen} ({} ms)", target.name, elapsed.as_millis()));
            last = Some(seen);
        }
        if want.holds(seen) {
            log.progress(format_args!(
                "{} {} confirmed by the controller's sense after {} ms",
                target.name,
                want.word(),
                elapsed.as_millis()
            ));
            if !timing.power_wait.is_zero() {
                log.progress(format_args!("waiting {} ms (power_wait)", timing.power_wait.as_millis()));
                endpoint.pause(timing.power_wait);
            }
            return Ok(Confirmed { after: elapsed, seen });
        }
        let Some(left) = deadline.checked_duration_since(now).filter(|d| !d.is_zero()) else {
            return Err(not_confirmed(last, None));
        };
        endpoint.pause(pause.min(left));
        pause = (pause * 2).min(POLL);
    }
}

/// `off`, then `on`. Succeeds when `off` did: a node that stays off is a
/// warning, not a failure (the fence agent API's rule).
///
/// # Errors
///
/// [`ActionError`] of the `off` part.
pub fn reboot<E: Endpoint>(
    endpoint: &mut E,
    target: &Target,
    timing: &Timing,
    log: &mut Log<'_>,
) -> Result<Confirmed, ActionError> {
    let off = off(endpoint, target, timing, log)?;
    if let Err(e) = on(endpoint, target, timing, log) {
        log.warn(format_args!("`{}` is fenced, but was not powered on again: {e}", target.name));
    }
    Ok(off)
}

/// The node's sensed power.
///
/// # Errors
///
/// [`ActionError`]: unreachable, no such node, power unknown.
pub fn status<E: Endpoint>(endpoint: &mut E, target: &Target, timing: &Timing) -> Result<bool, ActionError> {
    let summary = endpoint.open(after(endpoint.now(), timing.login))?.describe()?;
    let seen = node_in(&summary, target)?;
    seen.powered.ok_or_else(|| ActionError::PowerUnknown { node: target.name.clone(), life: seen.life.name() })
}

/// The controller's view, which shows it answers under this key.
///
/// # Errors
///
/// [`ActionError::Unreachable`].
pub fn monitor<E: Endpoint>(endpoint: &mut E, timing: &Timing) -> Result<Summary, ActionError> {
    Ok(endpoint.open(after(endpoint.now(), timing.login))?.describe()?)
}

/// The nodes the controller has, by their names in `names` (the cluster
/// file's), with their sensed power.
///
/// # Errors
///
/// [`ActionError::Unreachable`].
pub fn list<E: Endpoint>(
    endpoint: &mut E,
    names: &[String],
    timing: &Timing,
) -> Result<Vec<(String, Option<bool>)>, ActionError> {
    let summary = monitor(endpoint, timing)?;
    Ok(names
        .iter()
        .zip(0..summary.nodes)
        .map(|(name, id)| (name.clone(), summary.node(NodeId(id)).and_then(|n| n.powered)))
        .collect())
}

/// Carries out `action` (one that talks to the controller) and writes its
/// answer on `out` in the fence agents' words.
///
/// # Errors
///
/// [`Error`]: the node missing for an action that needs one, or
/// [`ActionError`]; exit 1.
pub fn perform<E: Endpoint>(
    endpoint: &mut E,
    action: Action,
    setup: &Setup,
    timing: &Timing,
    out: &mut dyn Write,
    log: &mut Log<'_>,
) -> Result<Exit, Error> {
    let target = || setup.target.as_ref().ok_or(SetupError::NoPlug);
    match action {
        Action::Off => {
            off(endpoint, target()?, timing, log)?;
            writeln!(out, "Success: Powered OFF").map_err(ActionError::Output)?;
        }
        Action::On => {
            on(endpoint, target()?, timing, log)?;
            writeln!(out, "Success: Powered ON").map_err(ActionError::Output)?;
        }
        Action::Reboot => {
            reboot(endpoint, target()?, timing, log)?;
            writeln!(out, "Success: Rebooted").map_err(ActionError::Output)?;
        }
        Action::Status => {
            let powered = status(endpoint, target()?, timing)?;
            writeln!(out, "Status: {}", if powered { "ON" } else { "OFF" }).map_err(ActionError::Output)?;
            return Ok(if powered { Exit::Success } else { Exit::Off });
        }
        Action::Monitor => {
            let summary = monitor(endpoint, timing)?;
            log.progress(format_args!("the controller answers: {} nodes, up {} s", summary.nodes, summary.uptime_s));
        }
        Action::List | Action::ListStatus => {
            let mut text = String::new();
            for (name, powered) in list(endpoint, &setup.nodes, timing)? {
                if action == Action::List {
                    text.push_str(&format!("{name},\n"));
                } else {
                    text.push_str(&format!("{name},,{}\n", power_word(powered)));
                }
            }
            out.write_all(text.as_bytes()).map_err(ActionError::Output)?;
        }
        Action::Metadata | Action::ValidateAll => {}
    }
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests;
