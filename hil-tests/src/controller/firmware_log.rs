//! The firmware controller's log lines (defmt, decoded by `defmt-print`
//! as `MS LEVEL TEXT`). Both controllers log events in the core's words;
//! the firmware names nodes and groups by id, the rig puts their names in,
//! so one [`ConsoleEvent`] parser serves both. An error-level line is an
//! alarm.

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

    /// The line with names for ids, an error-level line marked an alarm.
    #[must_use]
    pub fn translate(&self, line: &FirmwareLine) -> String {
        let text = self.words(&line.text);
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

    /// Both controllers speak the core's words; the firmware names nodes
    /// and groups by id (`node 0`, `group 1`), which become their names.
    fn words(&self, text: &str) -> String {
        if let Some(rest) = text.strip_prefix("controller started:") {
            return format!("controller of cluster (firmware) started:{rest}");
        }
        if text.starts_with("status ") {
            // The console's status answer, read by id (`status_json`).
            return text.to_owned();
        }
        let mut out = Vec::new();
        let mut words = text.split(' ');
        while let Some(word) = words.next() {
            out.push(word.to_owned());
            if word != "node" && word != "group" {
                continue;
            }
            let Some(next) = words.next() else { break };
            let id = next.trim_end_matches([':', ',']);
            let name = if word == "node" { self.node(id) } else { self.group(id) };
            out.push(match name {
                Some(name) => format!("{name}{}", &next[id.len()..]),
                None => next.to_owned(),
            });
        }
        out.join(" ")
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
            ("14 WARN node 1 is late (past warntime)", ConsoleKind::NodeLate("beta".into())),
            ("15 WARN node 0 is dead", ConsoleKind::NodeDead("alpha".into())),
            ("16 WARN fencing node 0: fence record first, then the relay off", ConsoleKind::Fencing("alpha".into())),
            ("17 WARN node 0 is fenced: power sensed off", ConsoleKind::Fenced("alpha".into())),
            ("18 INFO node 0 unfenced: powered on as a standby", ConsoleKind::Unfenced("alpha".into())),
            (
                "19 INFO group 0 placed on node 1 (holder lost)",
                ConsoleKind::Placed { group: "svc".into(), node: "beta".into(), reason: "holder lost".into() },
            ),
            (
                "20 INFO group 0: asking node 0 to release it (holder lost)",
                ConsoleKind::Releasing { group: "svc".into(), node: "alpha".into() },
            ),
            ("21 INFO node 0: relay commanded off", ConsoleKind::RelayCommanded { node: "alpha".into(), on: false }),
            ("22 INFO node 1: power sensed on", ConsoleKind::Sensed { node: "beta".into(), on: true }),
            ("23 ERROR ALARM group 0 is held by several nodes: mask 0b11", ConsoleKind::Alarm),
            ("24 ERROR watchdog feed refused", ConsoleKind::Alarm),
            ("25 INFO status node 0: up, power on, want 0b1, holds 0b1", ConsoleKind::Other),
        ];
        for (line, kind) in cases {
            let parsed = FirmwareLine::parse(line).unwrap();
            assert_eq!(&names.event(&parsed).kind, kind, "{line}: {}", names.translate(&parsed));
        }
        assert_eq!(FirmwareLine::parse("12 INFO node 0 is up").map(|l| l.ms), Some(12));
        let placed = FirmwareLine::parse("19 INFO group 0 placed on node 1 (holder lost)").unwrap();
        assert_eq!(names.translate(&placed), "group svc placed on node beta (holder lost)");
        let status = FirmwareLine::parse("26 INFO status group 0: placed on node 1").unwrap();
        assert_eq!(names.translate(&status), "status group 0: placed on node 1", "status lines stay by id");
        assert_eq!(FirmwareLine::parse("not a line"), None);
    }
}
