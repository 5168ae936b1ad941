//! The controller's console lines, parsed into what the rig waits for and
//! measures (the lines `warden-controller` prints for every transition:
//! `[2026-12-02T13:34:36.693Z] node alpha is dead`; the stamp is not read).

/// What a console line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleKind {
    /// The controller is running.
    Started,
    /// `node X is up`.
    NodeUp(String),
    /// `node X is late`.
    NodeLate(String),
    /// `node X is dead`.
    NodeDead(String),
    /// `fencing node X`: record written, relay commanded off.
    Fencing(String),
    /// `node X is fenced: power sensed off`.
    Fenced(String),
    /// `node X unfenced`.
    Unfenced(String),
    /// `group G: asking X to release it`.
    Releasing {
        /// The group.
        group: String,
        /// The node asked.
        node: String,
    },
    /// `group G placed on X (reason)`.
    Placed {
        /// The group.
        group: String,
        /// Where.
        node: String,
        /// Why, as printed.
        reason: String,
    },
    /// `node X: relay commanded on|off`.
    RelayCommanded {
        /// The node.
        node: String,
        /// The command.
        on: bool,
    },
    /// `node X: power sensed on|off`.
    Sensed {
        /// The node.
        node: String,
        /// The reading.
        on: bool,
    },
    /// A line starting with `ALARM`.
    Alarm,
    /// Anything else.
    Other,
}

/// A console line and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleEvent {
    /// The line without its timestamp.
    pub text: String,
    /// What it says.
    pub kind: ConsoleKind,
}

impl ConsoleEvent {
    /// Parses one console line.
    #[must_use]
    pub fn parse(line: &str) -> Self {
        let text = match line.trim_start().strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((_, rest)) => rest,
            None => line,
        }
        .trim_end()
        .to_owned();
        let kind = kind_of(&text);
        Self { text, kind }
    }

    /// The line without its timestamp.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether a narrator shows it.
    #[must_use]
    pub fn is_notable(&self) -> bool {
        !matches!(self.kind, ConsoleKind::Other | ConsoleKind::Sensed { .. })
    }
}

fn word(s: &str) -> String {
    s.split_whitespace().next().unwrap_or_default().to_owned()
}

fn kind_of(text: &str) -> ConsoleKind {
    if text.starts_with("ALARM") {
        return ConsoleKind::Alarm;
    }
    if text.starts_with("controller of cluster ") && text.contains(" started") {
        return ConsoleKind::Started;
    }
    if let Some(rest) = text.strip_prefix("fencing node ") {
        return ConsoleKind::Fencing(rest.split(':').next().unwrap_or_default().to_owned());
    }
    if let Some(rest) = text.strip_prefix("group ") {
        if let Some((group, rest)) = rest.split_once(" placed on node ") {
            let (node, reason) = rest.split_once(" (").unwrap_or((rest, ""));
            return ConsoleKind::Placed {
                group: group.to_owned(),
                node: node.to_owned(),
                reason: reason.trim_end_matches(')').to_owned(),
            };
        }
        if let Some((group, rest)) = rest.split_once(": asking node ") {
            return ConsoleKind::Releasing { group: group.to_owned(), node: word(rest) };
        }
        return ConsoleKind::Other;
    }
    let Some(rest) = text.strip_prefix("node ") else { return ConsoleKind::Other };
    let node = rest.split([' ', ':']).next().unwrap_or_default().to_owned();
    let tail = rest.get(node.len()..).unwrap_or_default();
    match tail {
        " is up" => ConsoleKind::NodeUp(node),
        " is dead" => ConsoleKind::NodeDead(node),
        t if t.starts_with(" is late") => ConsoleKind::NodeLate(node),
        t if t.starts_with(" is fenced") => ConsoleKind::Fenced(node),
        t if t.starts_with(" unfenced") => ConsoleKind::Unfenced(node),
        t if t.starts_with(": relay commanded ") => {
            ConsoleKind::RelayCommanded { node, on: t.trim_start_matches(": relay commanded ").starts_with("on") }
        }
        t if t.starts_with(": power sensed ") => {
            ConsoleKind::Sensed { node, on: t.trim_start_matches(": power sensed ").starts_with("on") }
        }
        _ => ConsoleKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_controllers_lines() {
        let cases: &[(&str, ConsoleKind)] = &[
            (
                "[    0.012s] controller of cluster rig started: 2 nodes, 1 groups, control socket /x",
                ConsoleKind::Started,
            ),
            ("[    1.000s] node alpha is up", ConsoleKind::NodeUp("alpha".into())),
            ("[    1.000s] node alpha is late (past warntime)", ConsoleKind::NodeLate("alpha".into())),
            ("[    1.000s] node alpha is dead", ConsoleKind::NodeDead("alpha".into())),
            (
                "[    1.000s] fencing node alpha: fence record first, then the relay off",
                ConsoleKind::Fencing("alpha".into()),
            ),
            ("[    1.000s] node alpha is fenced: power sensed off", ConsoleKind::Fenced("alpha".into())),
            ("[    1.000s] node alpha unfenced: powered on as a standby", ConsoleKind::Unfenced("alpha".into())),
            (
                "[    1.000s] group svc placed on node beta (holder lost)",
                ConsoleKind::Placed { group: "svc".into(), node: "beta".into(), reason: "holder lost".into() },
            ),
            (
                "[    1.000s] group svc: asking node alpha to release it (operator)",
                ConsoleKind::Releasing { group: "svc".into(), node: "alpha".into() },
            ),
            (
                "[    1.000s] node alpha: relay commanded off",
                ConsoleKind::RelayCommanded { node: "alpha".into(), on: false },
            ),
            ("[    1.000s] node beta: power sensed on", ConsoleKind::Sensed { node: "beta".into(), on: true }),
            ("[    1.000s] ALARM group svc is held by several nodes: node alpha node beta", ConsoleKind::Alarm),
            ("[    1.000s] node alpha: fence record written (fenced)", ConsoleKind::Other),
            ("something else", ConsoleKind::Other),
        ];
        for (line, kind) in cases {
            assert_eq!(&ConsoleEvent::parse(line).kind, kind, "{line}");
        }
        assert_eq!(ConsoleEvent::parse("[ 1.000s] node alpha is up").text(), "node alpha is up");
    }
}
