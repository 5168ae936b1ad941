//! Controller and agent steps: the recorded steady state replayed.

use std::hint::black_box;

use super::{measure, Effort, Row};
use crate::Recording;

/// Every input the controller received, replayed.
pub(super) fn controller_row(recording: &Recording, nodes: u8, groups: u8, effort: Effort) -> Row {
    let inputs = &recording.controller_inputs;
    let (median, p99) = measure(
        effort,
        inputs.len(),
        || recording.controller.clone(),
        |c, i| {
            let (now, input) = inputs[i];
            input.apply(c, now);
            while let Some(out) = c.poll_output() {
                black_box(out);
            }
        },
    );
    Row {
        name: format!("controller step, {nodes} nodes / {groups} groups"),
        unit: "ns/event",
        median,
        p99: Some(p99),
        samples: inputs.len(),
    }
}

/// Every input the agent of node 0 received, replayed.
pub(super) fn agent_row(recording: &Recording, groups: u8, effort: Effort) -> Row {
    let inputs = &recording.agent_inputs;
    let (median, p99) = measure(
        effort,
        inputs.len(),
        || recording.agent.clone(),
        |a, i| {
            let (now, input) = inputs[i];
            input.apply(a, now);
            while let Some(out) = a.poll_output() {
                black_box(out);
            }
        },
    );
    Row {
        name: format!("agent step, {groups} groups"),
        unit: "ns/event",
        median,
        p99: Some(p99),
        samples: inputs.len(),
    }
}
