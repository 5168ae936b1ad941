//! The firmware controller's log lines (defmt, decoded by `defmt-print`
//! as `MS LEVEL TEXT`), put in the Linux controller's words: nodes and
//! groups by name instead of id, so one [`ConsoleEvent`] parser serves
//! both controllers. An error-level line is an alarm.

use super::console::ConsoleEvent;

/// One decoded log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirmwareLine {
    /// The firmware's clock: milliseconds since its boot.
    pub ms: u64,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`.
    pub level: String,
    /// The message.
    pub text: String,
}

impl FirmwareLine {
    /// Parses `MS LEVEL TEXT` (`defmt-print --log-format "{t} {L} {s}"`).
    #[must_use]
    pub fn parse(line: &str) -> Option<Self> {
        let mut words = line.trim().splitn(3, ' ');
        let ms = words.next()?.parse().ok()?;
        let level = words.next()?.trim().to_owned();
        let text = words.next().unwrap_or_default().trim().to_owned();
        Some(Self { ms, level, text })
    }
}

/// Names of nodes and groups by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Node names, by id.
    pub nodes: Vec<String>,
    /// Group names, by id.
    pub groups: Vec<String>,
}

impl Names {
    fn node(&self, id: &str) -> Option<&str> {
        self.nodes.get(id.parse::<usize>().ok()?).map(String::as_str)
    }

    fn group(&self, id: &str) -> Option<&str> {
        self.groups.get(id.parse::<usize>().ok()?).map(String::as_str)
    }

    /// The line in the Linux controller's words (unchanged where there is
    /// nothing to put so).
    #[must_use]
    pub fn translate(&self, line: &FirmwareLine) -> String {
        let text = self.words(&line.text).unwrap_or_else(|| line.text.clone());
        if line.level.eq_ignore_ascii_case("ERROR") && !text.starts_with("ALARM") {
            format!("ALARM {text}")
        } else {
            text
        }
    }

    /// The line as a console event.
    #[must_use]
    pub fn event(&self, line: &FirmwareLine) -> ConsoleEvent {
        ConsoleEvent::parse(&self.translate(line))
    }

    fn words(&self, text: &str) -> Option<String> {
        if let Some(rest) = text.strip_prefix("controller started:") {
            return Some(format!("controller of cluster (firmware) started:{rest}"));
        }
        if let Some(rest) = text.strip_prefix("group ") {
            let (id, rest) = rest.split_once([' ', ':'])?;
            let g = self.group(id)?;
            if let Some(rest) = rest.strip_prefix("placed on node ") {
                let (n, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                return Some(format!("group {g} placed on {} {reason}", self.node(n)?).trim_end().to_owned());
            }
            if let Some(rest) = rest.trim_start().strip_prefix("release asked of node ") {
                let (n, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                return Some(
                    format!("group {g}: asking {} to release it {reason}", self.node(n)?).trim_end().to_owned(),
                );
            }
            if rest.starts_with("cannot be placed") {
                return Some(format!("group {g} cannot be placed: no eligible node available"));
            }
            if rest.starts_with("reported held by several nodes") {
                return Some(format!("ALARM group {g} is held by several nodes"));
            }
            return None;
        }
        let rest = text.strip_prefix("node ")?;
        let (id, tail) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
        let n = self.node(id)?;
        Some(match tail {
            " is up" => format!("node {n} is up"),
            " is late" => format!("node {n} is late (past warntime)"),
            " is dead" => format!("node {n} is dead"),
            ": fence started" => format!("fencing node {n}: fence record written, relay commanded off"),
            " unfenced" => format!("node {n} unfenced: powered on as a standby"),
            t if t.starts_with(" is fenced: power sensed off") => format!("node {n} is fenced: power sensed off"),
            t if t.starts_with(" is fenced but sensed powered") => {
                format!("ALARM fenced node {n} was sensed powered: relay commanded off again")
            }
            t if t.starts_with(": fence NOT confirmed") => {
                format!("ALARM node {n}: power not confirmed off; nothing it may hold will move")
            }
            t => format!("node {n}{t}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::console::ConsoleKind;

    #[test]
    fn firmware_lines_in_the_linux_controllers_words() {
        let names = Names { nodes: vec!["alpha".into(), "beta".into()], groups: vec!["svc".into()] };
        let cases: &[(&str, ConsoleKind)] = &[
            ("12 INFO controller started: 2 nodes, watchdog 5000 ms, stack used 3000 bytes", ConsoleKind::Started),
            ("13 INFO node 0 is up", ConsoleKind::NodeUp("alpha".into())),
            ("14 WARN node 1 is late", ConsoleKind::NodeLate("beta".into())),
            ("15 WARN node 0 is dead", ConsoleKind::NodeDead("alpha".into())),
            ("16 WARN node 0: fence started", ConsoleKind::Fencing("alpha".into())),
            ("17 WARN node 0 is fenced: power sensed off", ConsoleKind::Fenced("alpha".into())),
            ("18 INFO node 0 unfenced", ConsoleKind::Unfenced("alpha".into())),
            (
                "19 INFO group 0 placed on node 1 (holder lost)",
                ConsoleKind::Placed { group: "svc".into(), node: "beta".into(), reason: "holder lost".into() },
            ),
            (
                "20 INFO group 0: release asked of node 0 (holder lost)",
                ConsoleKind::Releasing { group: "svc".into(), node: "alpha".into() },
            ),
            ("21 INFO node 0: relay commanded off", ConsoleKind::RelayCommanded { node: "alpha".into(), on: false }),
            ("22 INFO node 1: power sensed on", ConsoleKind::Sensed { node: "beta".into(), on: true }),
            ("23 ERROR group 0 reported held by several nodes (mask 0b11)", ConsoleKind::Alarm),
            ("24 ERROR watchdog feed refused", ConsoleKind::Alarm),
            ("25 INFO status node 0: up, power on, want 0b1, holds 0b1", ConsoleKind::Other),
        ];
        for (line, kind) in cases {
            let parsed = FirmwareLine::parse(line).unwrap();
            assert_eq!(&names.event(&parsed).kind, kind, "{line}: {}", names.translate(&parsed));
        }
        assert_eq!(FirmwareLine::parse("12 INFO node 0 is up").map(|l| l.ms), Some(12));
        assert_eq!(FirmwareLine::parse("not a line"), None);
    }
}
