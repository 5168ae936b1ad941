//! The reference docs name everything a user can write or receive: every
//! key of the controller's hardware file (`docs/controller.md`) and every
//! alert event of the controller and of the agent (`docs/alerts.md`). A key
//! or an event added without its line in the docs fails here.

use warden_agent_proto::AgentEvent;
use warden_cluster::hardware::TABLES;
use warden_core::controller::Event;

const CONTROLLER_DOC: &str = include_str!("../../docs/controller.md");
const ALERTS_DOC: &str = include_str!("../../docs/alerts.md");

#[test]
fn every_key_of_the_hardware_file_is_documented() {
    let mut missing = Vec::new();
    for (table, keys) in TABLES {
        for key in *keys {
            if !CONTROLLER_DOC.contains(&format!("`{key}`")) && !CONTROLLER_DOC.contains(&format!("[{key}]")) {
                missing.push(format!("{table}: {key}"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/controller.md does not name: {missing:?}");
}

#[test]
fn every_alert_event_is_documented() {
    let controller = Event::EVERY_KIND.iter().map(Event::kind);
    let agent = AgentEvent::EVERY_KIND.iter().map(AgentEvent::name);
    let missing: Vec<&str> =
        controller.chain(agent).filter(|kind| !ALERTS_DOC.contains(&format!("| `{kind}` |"))).collect();
    assert!(missing.is_empty(), "docs/alerts.md has no row for: {missing:?}");
}
