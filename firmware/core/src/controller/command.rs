//! Operator commands in words, the one grammar the Linux controller's
//! control socket and the firmware's console share: `migrate GROUP NODE`,
//! `standby NODE`, `online NODE`, `fence NODE`, `unfence NODE`. Who parses
//! says how nodes and groups are named ([`Lookup`]: by name on Linux, by id
//! on the MCU) and handles its own other words (`status`, `table`, `wedge`).
//!
//! The number of words is checked before any name is looked up, so a
//! command with a word too many is refused as such whatever its names.

use core::fmt;

use super::text::Ids;
use crate::ids::{GroupId, NodeId};
use crate::wire::Op;

/// The operator commands, for a usage line.
pub const OPERATOR_COMMANDS: &str = "migrate GROUP NODE, standby NODE, online NODE, fence NODE, unfence NODE";

/// How a console names nodes and groups.
pub trait Lookup {
    /// The node `word` names, if any.
    fn node_named(&self, word: &str) -> Option<NodeId>;
    /// The group `word` names, if any.
    fn group_named(&self, word: &str) -> Option<GroupId>;
}

/// By id: `0` to `255`.
impl Lookup for Ids {
    fn node_named(&self, word: &str) -> Option<NodeId> {
        word.parse().ok().map(NodeId)
    }

    fn group_named(&self, word: &str) -> Option<GroupId> {
        word.parse().ok().map(GroupId)
    }
}

/// Why words are not an operator command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError<'a> {
    /// The verb takes more words than were given.
    MissingArgument(&'static str),
    /// More words than the verb takes.
    ExtraArgument(&'static str),
    /// A word that names no node.
    UnknownNode(&'a str),
    /// A word that names no group.
    UnknownGroup(&'a str),
}

impl fmt::Display for CommandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::MissingArgument(verb) | Self::ExtraArgument(verb) => match verb {
                "migrate" => f.write_str("`migrate` takes a group and a node: migrate GROUP NODE"),
                _ => write!(f, "`{verb}` takes one node: {verb} NODE"),
            },
            Self::UnknownNode(word) => write!(f, "unknown node `{word}`"),
            Self::UnknownGroup(word) => write!(f, "unknown group `{word}`"),
        }
    }
}

impl core::error::Error for CommandError<'_> {}

impl Op {
    /// Its verb, as typed and as the agent's control socket spells it.
    #[must_use]
    pub const fn verb(&self) -> &'static str {
        match self {
            Self::Migrate { .. } => "migrate",
            Self::Standby { .. } => "standby",
            Self::Online { .. } => "online",
            Self::Fence { .. } => "fence",
            Self::Unfence { .. } => "unfence",
            Self::Describe => "describe",
            Self::History { .. } => "history",
            Self::Counters => "counters",
        }
    }

    /// Parses an operator command: `verb` and the words after it.
    /// `Ok(None)` when `verb` is no operator command (the caller may know
    /// it).
    ///
    /// # Errors
    ///
    /// [`CommandError`] naming the verb or the word at fault.
    pub fn parse<'a>(
        verb: &str,
        mut args: impl Iterator<Item = &'a str>,
        names: &impl Lookup,
    ) -> Result<Option<Self>, CommandError<'a>> {
        let (verb, wanted): (&'static str, usize) = match verb {
            "migrate" => ("migrate", 2),
            "standby" => ("standby", 1),
            "online" => ("online", 1),
            "fence" => ("fence", 1),
            "unfence" => ("unfence", 1),
            _ => return Ok(None),
        };
        let mut words = [""; 2];
        for slot in words.iter_mut().take(wanted) {
            *slot = args.next().ok_or(CommandError::MissingArgument(verb))?;
        }
        if args.next().is_some() {
            return Err(CommandError::ExtraArgument(verb));
        }
        let [first, second] = words;
        let node = |word: &'a str| names.node_named(word).ok_or(CommandError::UnknownNode(word));
        Ok(Some(match verb {
            "migrate" => Self::Migrate {
                group: names.group_named(first).ok_or(CommandError::UnknownGroup(first))?,
                node: node(second)?,
            },
            "standby" => Self::Standby { node: node(first)? },
            "online" => Self::Online { node: node(first)? },
            "fence" => Self::Fence { node: node(first)? },
            _ => Self::Unfence { node: node(first)? },
        }))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    fn parse(line: &str) -> Result<Option<Op>, CommandError<'_>> {
        let mut words = line.split_whitespace();
        Op::parse(words.next().unwrap_or(""), words, &Ids)
    }

    #[test]
    fn commands_by_id() {
        assert_eq!(parse("fence 1"), Ok(Some(Op::Fence { node: NodeId(1) })));
        assert_eq!(parse("migrate 3 1"), Ok(Some(Op::Migrate { group: GroupId(3), node: NodeId(1) })));
        assert_eq!(parse("status"), Ok(None));
        assert_eq!(parse("fence"), Err(CommandError::MissingArgument("fence")));
        assert_eq!(parse("fence 1 2"), Err(CommandError::ExtraArgument("fence")));
        assert_eq!(parse("fence x 2"), Err(CommandError::ExtraArgument("fence")), "words are counted first");
        assert_eq!(parse("fence 256"), Err(CommandError::UnknownNode("256")));
        assert_eq!(parse("migrate x 1"), Err(CommandError::UnknownGroup("x")));
        assert_eq!(
            parse("migrate 1").unwrap_err().to_string(),
            "`migrate` takes a group and a node: migrate GROUP NODE"
        );
        assert_eq!(parse("online").unwrap_err().to_string(), "`online` takes one node: online NODE");
    }

    #[test]
    fn every_verb_parses_back() {
        let ops = [
            Op::Migrate { group: GroupId(2), node: NodeId(1) },
            Op::Standby { node: NodeId(0) },
            Op::Online { node: NodeId(0) },
            Op::Fence { node: NodeId(3) },
            Op::Unfence { node: NodeId(3) },
        ];
        for op in ops {
            let line = match op {
                Op::Migrate { group, node } => std::format!("{} {} {}", op.verb(), group.0, node.0),
                Op::Standby { node } | Op::Online { node } | Op::Fence { node } | Op::Unfence { node } => {
                    std::format!("{} {}", op.verb(), node.0)
                }
                Op::Describe | Op::History { .. } | Op::Counters => unreachable!(),
            };
            assert_eq!(parse(&line), Ok(Some(op)), "{line}");
            assert!(OPERATOR_COMMANDS.contains(op.verb()));
        }
        assert_eq!(parse("describe"), Ok(None), "describe is asked for by agents, not typed");
    }
}
