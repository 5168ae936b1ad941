//! The one spelling of what the controller tells people and machines: each
//! event's machine name ([`Event::kind`], for alert commands and JSON), its
//! severity, what it is about, and its line for a person, with nodes and
//! groups named by whoever prints it ([`Names`]: names from the cluster
//! file on Linux, ids on the MCU and in the simulator). The firmware logs
//! the same words through `defmt` (feature `defmt`).

use core::fmt;

use super::io::{Event, MoveReason};
use crate::ids::{GroupId, NodeId};

/// How nodes, groups and links are named in an event's line. The default
/// names them by id: `node 0`, `group 1`, `link 2`.
pub trait Names {
    /// Writes how a person knows `node`, e.g. `node alpha`.
    fn node(&self, f: &mut fmt::Formatter<'_>, node: NodeId) -> fmt::Result {
        write!(f, "node {}", node.0)
    }

    /// Writes how a person knows `group`, e.g. `group web`.
    fn group(&self, f: &mut fmt::Formatter<'_>, group: GroupId) -> fmt::Result {
        write!(f, "group {}", group.0)
    }

    /// Writes how a person knows link driver `link`, e.g. `/dev/ttyS1`.
    fn link(&self, f: &mut fmt::Formatter<'_>, link: usize) -> fmt::Result {
        write!(f, "link {link}")
    }
}

/// Names by id (`node 0`, `group 1`): the MCU's and the simulator's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ids;

impl Names for Ids {}

/// How much an event matters to an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Normal operation (a node up, a group placed).
    Info,
    /// Worth a look (a node late or dead, a fence under way).
    Warn,
    /// Needs a person: something the controller cannot mend by itself, or
    /// a safety rule held something back. Lines start with `ALARM`.
    Alarm,
}

impl MoveReason {
    /// Its machine name (`holder_lost`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::HolderLost => "holder_lost",
            Self::Failing => "failing",
            Self::NetScore => "net_score",
            Self::Failback => "failback",
            Self::Operator => "operator",
            Self::Placement => "placement",
        }
    }

    /// Its words for a person (`holder lost`, ...).
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::HolderLost => "holder lost",
            Self::Failing => "failing on its holder",
            Self::NetScore => "better connected node",
            Self::Failback => "failback home",
            Self::Operator => "operator",
            Self::Placement => "first placement",
        }
    }
}

impl Event {
    /// One event of every kind (for what must name them all: docs, tests).
    /// A kind added to [`Event`] is a compile error in [`Event::kind`]
    /// until it is named; add it here too.
    pub const EVERY_KIND: [Self; 15] = {
        let (n, g) = (NodeId(0), GroupId(0));
        let why = MoveReason::HolderLost;
        [
            Self::NodeUp { node: n },
            Self::NodeLate { node: n },
            Self::NodeDead { node: n },
            Self::FenceStarted { node: n },
            Self::FenceConfirmed { node: n },
            Self::FenceUnconfirmed { node: n },
            Self::Unfenced { node: n },
            Self::Releasing { group: g, from: n, reason: why },
            Self::Placed { group: g, to: n, reason: why },
            Self::Unplaced { group: g },
            Self::Conflict { group: g, nodes: 0b11 },
            Self::FencedNodePowered { node: n },
            Self::PersistFailed { node: n, fenced: true },
            Self::WatchdogWithheld { links: 1 },
            Self::WatchdogResumed,
        ]
    };

    /// Its machine name, as alert commands get it in `WARDEN_EVENT`.
    #[must_use]
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::NodeUp { .. } => "node_up",
            Self::NodeLate { .. } => "node_late",
            Self::NodeDead { .. } => "node_dead",
            Self::FenceStarted { .. } => "fence_started",
            Self::FenceConfirmed { .. } => "fence_confirmed",
            Self::FenceUnconfirmed { .. } => "fence_unconfirmed",
            Self::Unfenced { .. } => "unfenced",
            Self::Releasing { .. } => "releasing",
            Self::Placed { .. } => "placed",
            Self::Unplaced { .. } => "unplaced",
            Self::Conflict { .. } => "conflict",
            Self::FencedNodePowered { .. } => "fenced_node_powered",
            Self::PersistFailed { .. } => "persist_failed",
            Self::WatchdogWithheld { .. } => "watchdog_withheld",
            Self::WatchdogResumed => "watchdog_resumed",
        }
    }

    /// How much it matters.
    #[must_use]
    pub const fn severity(&self) -> Severity {
        match self {
            Self::NodeUp { .. }
            | Self::Unfenced { .. }
            | Self::Releasing { .. }
            | Self::Placed { .. }
            | Self::FenceConfirmed { .. }
            | Self::WatchdogResumed => Severity::Info,
            Self::NodeLate { .. } | Self::NodeDead { .. } | Self::FenceStarted { .. } | Self::Unplaced { .. } => {
                Severity::Warn
            }
            Self::FenceUnconfirmed { .. }
            | Self::Conflict { .. }
            | Self::FencedNodePowered { .. }
            | Self::PersistFailed { .. }
            | Self::WatchdogWithheld { .. } => Severity::Alarm,
        }
    }

    /// The node it is about, if one.
    #[must_use]
    pub const fn node(&self) -> Option<NodeId> {
        match *self {
            Self::NodeUp { node }
            | Self::NodeLate { node }
            | Self::NodeDead { node }
            | Self::FenceStarted { node }
            | Self::FenceConfirmed { node }
            | Self::FenceUnconfirmed { node }
            | Self::Unfenced { node }
            | Self::FencedNodePowered { node }
            | Self::PersistFailed { node, .. }
            | Self::Releasing { from: node, .. }
            | Self::Placed { to: node, .. } => Some(node),
            Self::Unplaced { .. } | Self::Conflict { .. } | Self::WatchdogWithheld { .. } | Self::WatchdogResumed => {
                None
            }
        }
    }

    /// The group it is about, if one.
    #[must_use]
    pub const fn group(&self) -> Option<GroupId> {
        match *self {
            Self::Releasing { group, .. }
            | Self::Placed { group, .. }
            | Self::Unplaced { group }
            | Self::Conflict { group, .. } => Some(group),
            _ => None,
        }
    }

    /// Its line for a person, nodes and groups named by `names`; an alarm's
    /// line starts with `ALARM`.
    pub fn display<'a, N: Names + ?Sized>(&'a self, names: &'a N) -> impl fmt::Display + 'a {
        Line { event: self, names }
    }
}

struct Line<'a, N: ?Sized> {
    event: &'a Event,
    names: &'a N,
}

impl<N: Names + ?Sized> fmt::Display for Line<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names;
        let node = |f: &mut fmt::Formatter<'_>, n| names.node(f, n);
        let group = |f: &mut fmt::Formatter<'_>, g| names.group(f, g);
        if self.event.severity() == Severity::Alarm {
            f.write_str("ALARM ")?;
        }
        match *self.event {
            Event::NodeUp { node: n } => {
                node(f, n)?;
                f.write_str(" is up")
            }
            Event::NodeLate { node: n } => {
                node(f, n)?;
                f.write_str(" is late (past warntime)")
            }
            Event::NodeDead { node: n } => {
                node(f, n)?;
                f.write_str(" is dead")
            }
            Event::FenceStarted { node: n } => {
                f.write_str("fencing ")?;
                node(f, n)?;
                f.write_str(": fence record first, then the relay off")
            }
            Event::FenceConfirmed { node: n } => {
                node(f, n)?;
                f.write_str(" is fenced: power sensed off")
            }
            Event::FenceUnconfirmed { node: n } => {
                node(f, n)?;
                f.write_str(": power not confirmed off; nothing it may hold will move")
            }
            Event::Unfenced { node: n } => {
                node(f, n)?;
                f.write_str(" unfenced: powered on as a standby")
            }
            Event::Releasing { group: g, from, reason } => {
                group(f, g)?;
                f.write_str(": asking ")?;
                node(f, from)?;
                write!(f, " to release it ({})", reason.describe())
            }
            Event::Placed { group: g, to, reason } => {
                group(f, g)?;
                f.write_str(" placed on ")?;
                node(f, to)?;
                write!(f, " ({})", reason.describe())
            }
            Event::Unplaced { group: g } => {
                group(f, g)?;
                f.write_str(" cannot be placed: no eligible node available")
            }
            Event::Conflict { group: g, nodes } => {
                group(f, g)?;
                f.write_str(" is held by several nodes:")?;
                for n in (0..8u8).filter(|i| nodes & (1 << i) != 0) {
                    f.write_str(" ")?;
                    node(f, NodeId(n))?;
                }
                Ok(())
            }
            Event::FencedNodePowered { node: n } => {
                f.write_str("fenced ")?;
                node(f, n)?;
                f.write_str(" was sensed powered: relay commanded off again")
            }
            Event::PersistFailed { node: n, fenced } => {
                node(f, n)?;
                f.write_str(if fenced {
                    ": fence record NOT durable: relay left on, written again at fence_timeout"
                } else {
                    ": unfence record NOT durable: it stays fenced and off"
                })
            }
            Event::WatchdogWithheld { links } => {
                f.write_str("watchdog NOT fed: link driver stalled on")?;
                for l in (0..16usize).filter(|i| links & (1 << i) != 0) {
                    f.write_str(" ")?;
                    names.link(f, l)?;
                }
                Ok(())
            }
            Event::WatchdogResumed => f.write_str("watchdog fed again: every link driver is making progress"),
        }
    }
}

/// The same words through `defmt`, nodes and groups by id.
#[cfg(feature = "defmt")]
impl defmt::Format for Event {
    fn format(&self, f: defmt::Formatter<'_>) {
        if self.severity() == Severity::Alarm {
            defmt::write!(f, "ALARM ");
        }
        match *self {
            Self::NodeUp { node } => defmt::write!(f, "node {=u8} is up", node.0),
            Self::NodeLate { node } => defmt::write!(f, "node {=u8} is late (past warntime)", node.0),
            Self::NodeDead { node } => defmt::write!(f, "node {=u8} is dead", node.0),
            Self::FenceStarted { node } => {
                defmt::write!(f, "fencing node {=u8}: fence record first, then the relay off", node.0);
            }
            Self::FenceConfirmed { node } => defmt::write!(f, "node {=u8} is fenced: power sensed off", node.0),
            Self::FenceUnconfirmed { node } => {
                defmt::write!(f, "node {=u8}: power not confirmed off; nothing it may hold will move", node.0);
            }
            Self::Unfenced { node } => defmt::write!(f, "node {=u8} unfenced: powered on as a standby", node.0),
            Self::Releasing { group, from, reason } => defmt::write!(
                f,
                "group {=u8}: asking node {=u8} to release it ({=str})",
                group.0,
                from.0,
                reason.describe()
            ),
            Self::Placed { group, to, reason } => {
                defmt::write!(f, "group {=u8} placed on node {=u8} ({=str})", group.0, to.0, reason.describe());
            }
            Self::Unplaced { group } => {
                defmt::write!(f, "group {=u8} cannot be placed: no eligible node available", group.0);
            }
            Self::Conflict { group, nodes } => {
                defmt::write!(f, "group {=u8} is held by several nodes: mask {=u8:#b}", group.0, nodes);
            }
            Self::FencedNodePowered { node } => {
                defmt::write!(f, "fenced node {=u8} was sensed powered: relay commanded off again", node.0);
            }
            Self::PersistFailed { node, fenced: true } => defmt::write!(
                f,
                "node {=u8}: fence record NOT durable: relay left on, written again at fence_timeout",
                node.0
            ),
            Self::PersistFailed { node, fenced: false } => {
                defmt::write!(f, "node {=u8}: unfence record NOT durable: it stays fenced and off", node.0);
            }
            Self::WatchdogWithheld { links } => {
                defmt::write!(f, "watchdog NOT fed: link driver stalled on links {=u16:#b}", links);
            }
            Self::WatchdogResumed => defmt::write!(f, "watchdog fed again: every link driver is making progress"),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    struct Named;
    impl Names for Named {
        fn node(&self, f: &mut fmt::Formatter<'_>, node: NodeId) -> fmt::Result {
            write!(f, "node {}", ["alpha", "beta"][usize::from(node.0 % 2)])
        }
        fn group(&self, f: &mut fmt::Formatter<'_>, _group: GroupId) -> fmt::Result {
            f.write_str("group web")
        }
        fn link(&self, f: &mut fmt::Formatter<'_>, link: usize) -> fmt::Result {
            write!(f, "/dev/ttyS{link}")
        }
    }

    #[test]
    fn lines_name_what_they_are_about() {
        let (n0, n1, g0) = (NodeId(0), NodeId(1), GroupId(0));
        let cases: &[(Event, &str, &str)] = &[
            (Event::NodeUp { node: n0 }, "node 0 is up", "node alpha is up"),
            (
                Event::Placed { group: g0, to: n1, reason: MoveReason::HolderLost },
                "group 0 placed on node 1 (holder lost)",
                "group web placed on node beta (holder lost)",
            ),
            (
                Event::Conflict { group: g0, nodes: 0b11 },
                "ALARM group 0 is held by several nodes: node 0 node 1",
                "ALARM group web is held by several nodes: node alpha node beta",
            ),
            (
                Event::WatchdogWithheld { links: 0b1010 },
                "ALARM watchdog NOT fed: link driver stalled on link 1 link 3",
                "ALARM watchdog NOT fed: link driver stalled on /dev/ttyS1 /dev/ttyS3",
            ),
            (
                Event::PersistFailed { node: n0, fenced: true },
                "ALARM node 0: fence record NOT durable: relay left on, written again at fence_timeout",
                "ALARM node alpha: fence record NOT durable: relay left on, written again at fence_timeout",
            ),
        ];
        for (event, by_id, by_name) in cases {
            assert_eq!(format!("{}", event.display(&Ids)), *by_id);
            assert_eq!(format!("{}", event.display(&Named)), *by_name);
        }
        assert_eq!(Event::FenceStarted { node: n1 }.kind(), "fence_started");
        assert_eq!(Event::Releasing { group: g0, from: n1, reason: MoveReason::Operator }.node(), Some(n1));
        assert_eq!(Event::WatchdogResumed.group(), None);
    }

    #[test]
    fn every_kind_is_there_once() {
        let kinds: std::vec::Vec<&str> = Event::EVERY_KIND.iter().map(Event::kind).collect();
        for (i, kind) in kinds.iter().enumerate() {
            assert!(!kinds[..i].contains(kind), "{kind} twice");
        }
    }
}
