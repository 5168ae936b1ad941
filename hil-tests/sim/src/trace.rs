//! What happened in a simulated run, kept compactly and printed only when
//! someone reads it (a failing seed, a replay, the narrated demo).

use std::collections::VecDeque;
use std::fmt;

use warden_agent_proto::{AgentEvent, Step, StepResult};
use warden_core::controller::{Event, FenceRecord, Ids};
use warden_core::wire::{Body, Op, Refusal};
use warden_core::NodeId;

/// One thing that happened.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A fault was injected, or healed (text says which).
    Fault(String),
    /// The simulated operator did something.
    Operator(String),
    /// An operator request was answered.
    Answer(Op, Result<(), Refusal>),
    /// A controller alarm.
    Alarm(Event),
    /// An agent event.
    Agent(NodeId, AgentEvent),
    /// A step began on a server.
    StepBegin(NodeId, Step),
    /// A step ended on a server.
    StepEnd(NodeId, Step, StepResult),
    /// The controller asked for a fence record to be written.
    Persist(FenceRecord),
    /// The store answered a write: durable or failed.
    Persisted(FenceRecord, bool),
    /// The controller switched a relay (`ignored`: the switch did nothing).
    Power(NodeId, bool, bool),
    /// A server's power changed.
    Powered(NodeId, bool),
    /// A sense reading reached the controller.
    Sense(NodeId, bool),
    /// The controller booted (after a reset, or first).
    ControllerBoot,
    /// An agent process started.
    AgentBoot(NodeId),
    /// A message was delivered (verbose traces only).
    Message(NodeId, bool, Body),
    /// A safety rule broke.
    Violation(String),
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fault(s) => write!(f, "FAULT    {s}"),
            Self::Operator(s) => write!(f, "OPERATOR {s}"),
            Self::Answer(op, outcome) => match outcome {
                Ok(()) => write!(f, "OPERATOR {op:?} accepted"),
                Err(r) => write!(f, "OPERATOR {op:?} refused: {r}"),
            },
            Self::Alarm(e) => write!(f, "control  {}", describe_event(e)),
            Self::Agent(n, e) => write!(f, "{n}    {e}"),
            Self::StepBegin(n, s) => write!(f, "{n}    begins {s}"),
            Self::StepEnd(n, s, r) => write!(f, "{n}    ends {s}: {r:?}"),
            Self::Persist(r) => write!(
                f,
                "control  fence record for {} to be written: {}",
                r.node,
                if r.fenced { "fenced" } else { "not fenced" }
            ),
            Self::Persisted(r, durable) => write!(
                f,
                "world    fence record for {} {}",
                r.node,
                if *durable { "durable" } else { "NOT written (store failed)" }
            ),
            Self::Power(n, on, ignored) => write!(
                f,
                "control  relay of {n} switched {}{}",
                if *on { "ON" } else { "OFF" },
                if *ignored { " (the switch ignored it)" } else { "" }
            ),
            Self::Powered(n, on) => write!(f, "world    {n} {}", if *on { "has power" } else { "lost power" }),
            Self::Sense(n, on) => write!(f, "control  sense: {n} {}", if *on { "on" } else { "off" }),
            Self::ControllerBoot => f.write_str("control  controller booted (fence records and sense read)"),
            Self::AgentBoot(n) => write!(f, "{n}    agent started"),
            Self::Message(n, up, body) => {
                write!(f, "wire     {} {n}: {}", if *up { "from" } else { "to" }, describe_body(body))
            }
            Self::Violation(s) => write!(f, "VIOLATION {s}"),
        }
    }
}

/// A controller alarm in the core's words, nodes and groups by id.
#[must_use]
pub fn describe_event(e: &Event) -> String {
    e.display(&Ids).to_string()
}

fn describe_body(body: &Body) -> String {
    match body {
        Body::Hello => "Hello".into(),
        Body::Probing => "Probing".into(),
        Body::Beat(b) => format!("Beat want={:#x} {:?}", b.want.0, b.role),
        Body::Status(s) => {
            format!(
                "Status applied={} holds={:#x} busy={:#x} failing={:#x}",
                s.applied, s.holds.0, s.busy.0, s.failing.0
            )
        }
        Body::Request(r) => format!("Request {:?}", r.op),
        Body::Reply(r) => format!("Reply {:?}", r.outcome),
        Body::Summary(s) => format!("Summary for request {}", s.id),
        Body::History(h) => format!("History entry {} of {} for request {}", h.back, h.held, h.id),
        Body::Counters(c) => format!("Counters for request {}", c.id),
    }
}

/// The last entries of a run, with their times.
#[derive(Debug, Clone)]
pub struct Trace {
    entries: VecDeque<(u64, Entry)>,
    keep: usize,
    /// Print every entry as it is recorded.
    pub echo: bool,
}

impl Trace {
    /// A trace keeping the last `keep` entries.
    #[must_use]
    pub fn new(keep: usize, echo: bool) -> Self {
        Self { entries: VecDeque::with_capacity(keep.min(1024)), keep, echo }
    }

    /// Records `entry` at `at` (ms).
    pub fn push(&mut self, at: u64, entry: Entry) {
        if self.echo {
            println!("{}", line(at, &entry));
        }
        if self.entries.len() == self.keep {
            self.entries.pop_front();
        }
        self.entries.push_back((at, entry));
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &(u64, Entry)> {
        self.entries.iter()
    }
}

/// One printed line: time, then the entry.
#[must_use]
pub fn line(at: u64, entry: &Entry) -> String {
    format!("{:>5}.{:03}s  {entry}", at / 1000, at % 1000)
}
