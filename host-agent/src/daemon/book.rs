//! What the daemon remembers about each group's resources, for people:
//! their names, their presence as last seen, the last step and the last
//! error. The protocol half keeps its own account; this one only feeds
//! `status`, the log and alerts, and never decides anything.

use warden_core::GroupId;

use crate::perform::Performed;
use crate::resource::Presence;
use warden_agent_proto::{Action, AgentEvent, Step, StepResult};
use warden_control::{GroupStatus, ResourceStatus};

/// One resource's record.
#[derive(Debug, Clone)]
struct Entry {
    describe: String,
    state: &'static str,
    last_step: Option<String>,
    last_error: Option<String>,
}

/// One group's record.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    eligible: bool,
    entries: Vec<Entry>,
}

/// Every group's record, by group id.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    groups: Vec<Group>,
}

fn presence_word(p: Presence) -> &'static str {
    match p {
        Presence::Active => "active",
        Presence::Inactive => "inactive",
        Presence::Unknown => "unknown",
    }
}

impl Book {
    /// A record per group: its name, whether this node may hold it, and
    /// its resources' descriptions.
    pub(crate) fn new(groups: Vec<(String, bool, Vec<String>)>) -> Self {
        Self {
            groups: groups
                .into_iter()
                .map(|(name, eligible, describes)| Group {
                    name,
                    eligible,
                    entries: describes
                        .into_iter()
                        .map(|describe| Entry { describe, state: "unprobed", last_step: None, last_error: None })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The group's name (`group7` for an id the configuration lacks).
    pub(crate) fn group_name(&self, group: GroupId) -> String {
        self.groups.get(group.index()).map_or_else(|| group.to_string(), |g| g.name.clone())
    }

    /// The resource's description.
    pub(crate) fn describe(&self, group: GroupId, resource: u8) -> String {
        self.entry(group, resource).map_or_else(|| format!("resource {resource}"), |e| e.describe.clone())
    }

    fn entry(&self, group: GroupId, resource: u8) -> Option<&Entry> {
        self.groups.get(group.index())?.entries.get(usize::from(resource))
    }

    /// Records a finished step.
    pub(crate) fn record(&mut self, step: Step, performed: &Performed) {
        let Some(entry) =
            self.groups.get_mut(step.group.index()).and_then(|g| g.entries.get_mut(usize::from(step.resource)))
        else {
            return;
        };
        entry.last_step = Some(format!("{}: {} in {} ms", step.action, performed.word(), performed.took.as_millis()));
        match (step.action, performed.result) {
            (Action::Probe, StepResult::Present(p)) => entry.state = presence_word(p),
            (Action::Start, StepResult::Done) => {
                entry.state = "active";
                entry.last_error = None;
            }
            (Action::Stop, StepResult::Done) => {
                entry.state = "inactive";
                entry.last_error = None;
            }
            (Action::Start | Action::Stop | Action::Probe, _) => entry.state = "unknown",
            (Action::Monitor, _) => {}
        }
        if let Some(detail) = &performed.detail {
            entry.last_error = Some(detail.clone());
        }
    }

    /// Each group at a glance.
    pub(crate) fn status(&self) -> Vec<GroupStatus> {
        self.groups
            .iter()
            .map(|g| GroupStatus {
                name: g.name.clone(),
                eligible: g.eligible,
                resources: g
                    .entries
                    .iter()
                    .map(|e| ResourceStatus {
                        describe: e.describe.clone(),
                        state: e.state.to_owned(),
                        last_step: e.last_step.clone(),
                        last_error: e.last_error.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// An event in words, with names instead of ids, and the driver's own
    /// words for a failure.
    pub(crate) fn event_message(&self, event: &AgentEvent) -> String {
        let name = |g: &GroupId| format!("group `{}`", self.group_name(*g));
        let failed = |g: &GroupId, r: &u8, doing: &str, result: &StepResult| {
            let why =
                self.entry(*g, *r).and_then(|e| e.last_error.clone()).map(|w| format!(": {w}")).unwrap_or_default();
            format!("{}: {} {doing} ({result:?}){why}", name(g), self.describe(*g, *r))
        };
        match event {
            AgentEvent::Acquired { group } => format!("{} acquired: every resource is active", name(group)),
            AgentEvent::Released { group } => format!("{} released: every resource is inactive", name(group)),
            AgentEvent::StartFailed { group, resource, result } => failed(group, resource, "failed to start", result),
            AgentEvent::StopFailed { group, resource, result } => {
                format!(
                    "{}; it cannot be released here, the controller will fence",
                    failed(group, resource, "failed to stop", result)
                )
            }
            AgentEvent::MonitorFailed { group, resource, result } => {
                failed(group, resource, "failed its monitor", result)
            }
            AgentEvent::Restarting { group, from, attempt } => {
                format!("{} restarting from {} (local restart {attempt})", name(group), self.describe(*group, *from))
            }
            AgentEvent::Failing { group } => format!("{} failing here: releasing it for another node", name(group)),
            other => match other.group() {
                Some(g) => other.to_string().replace(&g.to_string(), &name(&g)),
                None => other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::resource::ErrorKind;

    #[test]
    fn steps_and_events_read_with_names() {
        let mut book = Book::new(vec![(
            "web".into(),
            true,
            vec!["address 10.0.0.5/24 on eth0".into(), "disk /dev/sdb1 on /srv".into()],
        )]);
        let g = GroupId(0);
        let probe = Step { group: g, resource: 0, action: Action::Probe };
        book.record(
            probe,
            &Performed {
                result: StepResult::Present(Presence::Inactive),
                detail: None,
                took: Duration::from_millis(2),
            },
        );
        let stop = Step { group: g, resource: 1, action: Action::Stop };
        let busy = Performed {
            result: StepResult::Failed(ErrorKind::Busy),
            detail: Some("disk /dev/sdb1 on /srv: cannot unmount /srv: holders still alive".into()),
            took: Duration::from_millis(7),
        };
        book.record(stop, &busy);
        let status = book.status();
        assert_eq!(status[0].resources[0].state, "inactive");
        assert_eq!(status[0].resources[1].state, "unknown");
        assert_eq!(status[0].resources[1].last_step.as_deref(), Some("stop: failed (busy) in 7 ms"));
        let text = book.event_message(&AgentEvent::StopFailed { group: g, resource: 1, result: busy.result });
        assert!(
            text.starts_with("group `web`: disk /dev/sdb1 on /srv failed to stop (Failed(Busy)): disk /dev/sdb1 on /srv: cannot unmount"),
            "{text}"
        );
        assert_eq!(
            book.event_message(&AgentEvent::Acquired { group: g }),
            "group `web` acquired: every resource is active"
        );
        assert_eq!(book.group_name(GroupId(9)), "group9");
    }
}
