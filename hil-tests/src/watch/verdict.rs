//! A run's verdict: named checks that pass or fail, each saying what it
//! saw, plus the timings measured on the way (reported, never asserted).

use std::time::Duration;

use serde_json::{json, Value};

use super::stats::ms;
use super::timeline::Happening;
use crate::controller::console::ConsoleKind;
use crate::runs::cluster::RunRecord;

/// One check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What it checks.
    pub name: String,
    /// Whether it held.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// The verdict of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The scenario.
    pub scenario: String,
    /// The checks, in order.
    pub checks: Vec<Check>,
    /// Timings from the fault, by name (`None`: not seen).
    pub timings: Vec<(&'static str, Option<Duration>)>,
    /// Counters worth reporting.
    pub counts: Vec<(&'static str, u64)>,
    /// A controller alarm the scenario provokes on purpose (text it
    /// contains): reported, not failed.
    pub expected_alarm: Option<&'static str>,
}

impl Verdict {
    /// An empty verdict for `scenario`.
    #[must_use]
    pub fn new(scenario: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            checks: Vec::new(),
            timings: Vec::new(),
            counts: Vec::new(),
            expected_alarm: None,
        }
    }

    /// Adds a check.
    pub fn check(&mut self, name: &str, passed: bool, detail: impl Into<String>) {
        self.checks.push(Check { name: name.to_owned(), passed, detail: detail.into() });
    }

    /// Whether every check held.
    #[must_use]
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The checks every run must pass, from what it recorded: for every
    /// group, one address holder and one mount at a time, and no
    /// acknowledged record lost.
    pub fn common_checks(&mut self, record: &RunRecord) {
        let overlaps = |what: &str| -> Vec<String> {
            record
                .findings
                .overlaps
                .iter()
                .filter(|o| o.what == what)
                .map(|o| {
                    format!("{}: {} at {:.3} s for {} ms", o.group, o.nodes.join("+"), o.at.as_secs_f64(), ms(o.lasted))
                })
                .collect()
        };
        let rounds = record.findings.rounds;
        let groups = record.groups.len();
        let each = if groups > 1 { format!(" ({groups} groups)") } else { String::new() };
        let address = overlaps("address");
        self.check(
            "service address on one server at a time",
            address.is_empty() && rounds > 0,
            if address.is_empty() {
                format!("{rounds} detector rounds, never two holders{each}")
            } else {
                address.join("; ")
            },
        );
        let mount = overlaps("mount");
        self.check(
            "shared disk mounted on one server at a time",
            mount.is_empty() && rounds > 0,
            if mount.is_empty() {
                format!("{rounds} detector rounds, never two mounts{each}")
            } else {
                mount.join("; ")
            },
        );
        let mut passed = !record.groups.is_empty();
        let mut details = Vec::new();
        for g in &record.groups {
            let name = if groups > 1 { format!("{}: ", g.name) } else { String::new() };
            match &g.records {
                Ok(r) => {
                    passed &= r.lost.is_empty() && r.acked > 0;
                    details.push(if r.acked == 0 {
                        format!("{name}the writer got no acknowledgement at all")
                    } else if r.lost.is_empty() {
                        format!("{name}{} acknowledged, all on the disk ({} records there)", r.acked, r.on_disk)
                    } else {
                        format!(
                            "{name}{} acknowledged, {} missing: {:?}",
                            r.acked,
                            r.lost.len(),
                            &r.lost[..r.lost.len().min(20)]
                        )
                    });
                }
                Err(e) => {
                    passed = false;
                    details.push(format!("{name}the disk could not be read: {e}"));
                }
            }
        }
        self.check("no acknowledged record lost", passed, details.join("; "));
        let rig: Vec<String> = record
            .entries
            .iter()
            .filter_map(|e| match &e.what {
                Happening::Violation(v) if v.starts_with("rig:") => Some(v.clone()),
                _ => None,
            })
            .collect();
        self.check(
            "the rig carried out every power change",
            rig.is_empty(),
            if rig.is_empty() { "yes".into() } else { rig.join("; ") },
        );
        let (expected, alarms): (Vec<String>, Vec<String>) = record
            .entries
            .iter()
            .filter_map(|e| match &e.what {
                Happening::Controller(c) if c.kind == ConsoleKind::Alarm => Some(c.text.clone()),
                _ => None,
            })
            .partition(|a| self.expected_alarm.is_some_and(|x| a.contains(x)));
        let name = if self.expected_alarm.is_some() {
            "no controller alarm but the provoked one"
        } else {
            "no controller alarm"
        };
        let detail = match (alarms.is_empty(), expected.is_empty()) {
            (true, true) => "none".to_owned(),
            (true, false) => format!("only the provoked: {}", expected.join("; ")),
            (false, _) => alarms.join("; "),
        };
        self.check(name, alarms.is_empty(), detail);
        let sum = |f: &dyn Fn(&crate::runs::cluster::GroupRecord) -> u64| record.groups.iter().map(f).sum::<u64>();
        self.counts.push(("probe_answers", sum(&|g| g.probe.answered)));
        self.counts.push(("probe_failures", sum(&|g| g.probe.failed)));
        self.counts.push(("records_acknowledged", sum(&|g| g.writes.acked.len() as u64)));
        self.counts.push(("records_unanswered", sum(&|g| g.writes.unanswered)));
        self.counts.push(("records_lost", sum(&|g| g.records.as_ref().map_or(0, |r| r.lost.len() as u64))));
        self.counts.push(("detector_rounds", rounds));
    }

    /// As JSON.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "scenario": self.scenario,
            "passed": self.passed(),
            "checks": self.checks.iter().map(|c| json!({"check": c.name, "passed": c.passed, "detail": c.detail})).collect::<Vec<_>>(),
            "timings_ms": self.timings.iter().map(|(k, v)| (k.to_string(), v.map_or(Value::Null, |d| json!(ms(d))))).collect::<serde_json::Map<_, _>>(),
            "counts": self.counts.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        })
    }

    /// For people.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!("scenario {}: {}\n", self.scenario, if self.passed() { "PASS" } else { "FAIL" });
        for c in &self.checks {
            out.push_str(&format!("  [{}] {}: {}\n", if c.passed { "ok" } else { "FAIL" }, c.name, c.detail));
        }
        if !self.timings.is_empty() {
            out.push_str("  timings from the fault:\n");
            for (name, d) in &self.timings {
                out.push_str(&format!(
                    "    {name:<28} {}\n",
                    d.map_or_else(|| "-".to_owned(), |d| format!("{:.1} ms", ms(d)))
                ));
            }
        }
        out
    }
}
